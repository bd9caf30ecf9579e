import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { AgentwireProvider } from 'agentwire/react'
import { App } from './App'
import '../shared.css'

// `agentwire demo` listens on ws://localhost:8787/ws; `?url=ws://host:port/ws` points elsewhere.
const url = new URLSearchParams(location.search).get('url') ?? 'ws://localhost:8787/ws'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AgentwireProvider options={{ url }}>
      <App />
    </AgentwireProvider>
  </StrictMode>,
)
