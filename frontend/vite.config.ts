import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

const outDir = fileURLToPath(new URL('../assets/dist', import.meta.url))

// assets/dist/.gitkeep is committed so that `go build` works without Node;
// emptyOutDir removes it, so put it back after every build.
function keepGitkeep(): Plugin {
  return {
    name: 'projectboard-keep-gitkeep',
    apply: 'build',
    closeBundle() {
      writeFileSync(`${outDir}/.gitkeep`, '')
    },
  }
}

const backend = process.env.PROJECTBOARD_DEV_BACKEND ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue(), keepGitkeep()],
  define: {
    __VUE_I18N_FULL_INSTALL__: 'true',
    __VUE_I18N_LEGACY_API__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
    __INTLIFY_DROP_MESSAGE_COMPILER__: 'false',
  },
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    chunkSizeWarningLimit: 700,
    // No modulepreload polyfill: it would be an inline script under our CSP.
    modulePreload: { polyfill: false },
    rolldownOptions: {
      output: {
        // ECharts in its own long-cached chunk, loaded only by the pages with charts.
        codeSplitting: {
          groups: [{ name: 'echarts', test: /node_modules[\\/](echarts|zrender)[\\/]/ }],
        },
      },
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/healthz': { target: backend },
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
})
