import { createApp } from 'vue'
import { agentwire } from 'agentwire/vue'
import { App } from './App'
import '../shared.css'

// `agentwire demo` listens on ws://localhost:8787/ws; `?url=ws://host:port/ws` points elsewhere.
const url = new URLSearchParams(location.search).get('url') ?? 'ws://localhost:8787/ws'

createApp(App).use(agentwire, { url }).mount('#app')
