import { createRouter, createWebHistory } from 'vue-router'
import { setBearerToken } from './api/client'
import { checked, loadMe, user } from './stores/session'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'dashboard', component: () => import('./views/DashboardView.vue') },
    { path: '/wall', name: 'wall', component: () => import('./views/WallView.vue'), meta: { public: true, bare: true } },
    { path: '/projects', name: 'projects', component: () => import('./views/ProjectsView.vue') },
    { path: '/projects/new', name: 'project-new', component: () => import('./views/NewProjectView.vue') },
    { path: '/projects/:id', name: 'project', component: () => import('./views/ProjectView.vue'), props: true },
    { path: '/reports', name: 'reports', component: () => import('./views/ReportsView.vue') },
    { path: '/months', name: 'months', component: () => import('./views/MonthsView.vue') },
    { path: '/bulletin', name: 'bulletin', component: () => import('./views/BulletinView.vue'), meta: { bare: true } },
    { path: '/problems', name: 'problems', component: () => import('./views/ProblemsView.vue') },
    { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
    { path: '/import', name: 'import', component: () => import('./views/ImportView.vue') },
    { path: '/admin', name: 'admin', component: () => import('./views/AdminView.vue') },
    { path: '/:rest(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue'), meta: { public: true } },
  ],
})

router.beforeEach(async (to) => {
  if (to.name === 'wall' && typeof to.query.token === 'string' && to.query.token) {
    // A wall screen with a display token needs no login and keeps no cookie.
    setBearerToken(to.query.token)
    return true
  }
  if (to.name === 'login') return true
  if (!checked.value) {
    try {
      await loadMe()
    } catch {
      /* server down: the page shows the connection state */
    }
  }
  if (to.meta.public || user.value) return true
  return { name: 'login', query: { next: to.fullPath } }
})
