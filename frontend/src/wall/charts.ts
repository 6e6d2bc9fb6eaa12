// The wall's charts, loaded apart from the rest of it: ECharts is most of the wall's bytes, and
// the route would otherwise wait for it before the live connection even starts. preloadCharts
// starts the download at once, beside the connection; the figures show as soon as the snapshot
// is in, the charts as soon as their code is.
import { defineAsyncComponent } from 'vue'

const stage = () => import('../components/StageChart.vue')
const sector = () => import('../components/SectorChart.vue')

export const StageChart = defineAsyncComponent(stage)
export const SectorChart = defineAsyncComponent(sector)

export function preloadCharts(): void {
  void stage()
  void sector()
}
