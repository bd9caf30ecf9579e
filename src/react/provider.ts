'use client'
import { createElement, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { createClient, type Client, type ClientOptions } from 'agentwire'
import { frame, relayStore, type Schedule } from 'agentwire'
import { ClientContext, type AnyClient } from './context'

export type AgentwireProviderProps = {
  children?: ReactNode
  /**
   * When the hooks below hear that the store changed. By default once per animation frame
   * (`requestAnimationFrame`; where there is none, as on Node or in jsdom, a timer of ~1/60 s):
   * under a flood of events a component re-renders at most once per frame, with the latest
   * state, instead of once per socket message. Pass `(notify) => notify()` to re-render after
   * every batch of events the store folds, as tests that want no frame to wait for do; or any
   * scheduler of your own. Read on the first render.
   * @default once per animation frame
   */
  schedule?: Schedule
} & (
  /** A client you created and own: the provider neither connects nor closes it. */
  | { client: AnyClient; options?: undefined }
  /**
   * Options for a client the provider creates, connects after mounting and closes on unmount,
   * `events` and `commands` included. Read once.
   */
  | { options: ClientOptions; client?: undefined }
)

/**
 * Gives every agentwire hook below it one client; use one per app.
 *
 * With `options`, the client is created during render without connecting and connected in an
 * effect, so a server render (`renderToString`, RSC's client boundary) never opens a socket.
 * Closing waits one microtask and is skipped when the provider mounts again in that time:
 * StrictMode's unmount and remount in development keeps the one socket it opened.
 */
export function AgentwireProvider(props: AgentwireProviderProps): ReactNode {
  const [owned] = useState(() => (props.client ? null : createClient({ ...props.options, autoConnect: false } as ClientOptions)))
  const mounts = useRef(0)
  useEffect(() => {
    if (!owned) return
    mounts.current++
    owned.connect()
    return () => {
      mounts.current--
      queueMicrotask(() => {
        if (mounts.current === 0) owned.close()
      })
    }
  }, [owned])
  // The hooks read it typed by `Register`, whatever definitions it was made with.
  const client = (props.client ?? owned)! as Client
  const [schedule] = useState(() => props.schedule ?? frame)
  const value = useMemo(() => ({ client, subscribe: relayStore(client, schedule) }), [client, schedule])
  return createElement(ClientContext.Provider, { value }, props.children)
}
