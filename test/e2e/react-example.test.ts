import { exampleTest } from './dashboard-scenario'

/** examples/react-dashboard, built with Vite, in headless Chromium against the gateway and the simulated fleet. */
exampleTest('react-dashboard')
