export type * from './client/types'
export * from './client/transports/index'
export { shallowEqual } from './client/select'
export { createStore, type Store, type StoreOptions } from './client/store'
