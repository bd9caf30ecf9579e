/**
 * AG-UI (the Agent-User Interaction protocol) both ways, as its own entry point so the root
 * bundle never carries it: the mapping from AG-UI events to canonical events (for a gateway in
 * front of an AG-UI agent, and for a client pointed at one), the mapping back (for the
 * gateway's AG-UI endpoint), and the SSE reading both need. Imports `agentwire/protocol` and
 * `fast-json-patch`; never `@ag-ui/*` (the wire format is read leniently here instead).
 */
export { createAguiMapper, aguiRole, type AguiMapper, type AguiMapperOptions } from './from-agui'
export { readSse, sseFrame, type SseFrame } from './sse'
export { createAguiWriter, toAguiMessages, rewindTranscript, rewindSteps, type AguiEvent, type AguiWriter } from './to-agui'
export { agui, aguiCodec, aguiTransport, AGUI_CAPABILITIES, type AguiClientOptions } from './client'
