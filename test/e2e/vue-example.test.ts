import { exampleTest } from './dashboard-scenario'

/** examples/vue-dashboard, built with Vite, in headless Chromium against the gateway and the simulated fleet. */
exampleTest('vue-dashboard')
