export { startSimulator, DEFAULT_FLEET } from './simulator'
export type { Simulator, SimulatorOptions, SimulatorTarget, SimulatorClock, SimulatedAgent, SimulatorCommand, SimulatorCommandResult } from './simulator'
export { dashboardHandler, DASHBOARD_CHANNELS } from './dashboard/index'
export type { DashboardOptions, HttpHandler } from './dashboard/index'
