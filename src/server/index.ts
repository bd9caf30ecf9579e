export { startSimulator, DEFAULT_FLEET } from './simulator'
export type { Simulator, SimulatorOptions, SimulatorTarget, SimulatorClock, SimulatedAgent, SimulatorCommand, SimulatorCommandResult } from './simulator'
