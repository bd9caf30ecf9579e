import type { PayloadOf } from '../events'
import { getKey } from '../records'
import type { CollectionView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import { upsert, type EntityReducer } from './entity'

/** `state.collections`: each created or updated collection's metadata. */
export const collections = {
  'collection.created': record,
  'collection.updated': record,
  'collection.deleted': (w, p) => w.remove('collections', p.collectionId),
} satisfies EntityReducer

function record(w: StateWriter, p: PayloadOf<'collection.created' | 'collection.updated'>): void {
  upsert(w, 'collections', p.collectionId, getKey(w.state.collections, p.collectionId), newCollection, { metadata: p.metadata })
}

function newCollection(id: string): Mutable<CollectionView> {
  return { id, metadata: {} }
}
