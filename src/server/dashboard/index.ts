export { dashboardHandler } from './handler'
export type { DashboardOptions, HttpHandler } from './handler'
export { DASHBOARD_CHANNELS } from './page'
export { findBrowserBuild } from './bundle'
