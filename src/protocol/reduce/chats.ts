import type { PayloadOf } from '../events'
import { getKey } from '../records'
import type { ChatView } from '../state'
import type { Mutable, StateWriter } from '../writer'
import { NONE, addOnce, upsert, type EntityReducer } from './entity'

/** `state.chats`: the record, a message count without duplicates, participants as a set in join order. */
export const chats = {
  'chat.created': record,
  'chat.updated': record,
  'chat.deleted': (w, p) => w.remove('chats', p.chatId),
  'chat.message.created': (w, p) => {
    const prev = getKey(w.state.chats, p.chatId)
    if (prev?.lastMessageId === p.messageId) return
    const chat = prev ? w.own(prev) : w.adopt(newChat(p.chatId))
    chat.messages += 1
    chat.lastMessageId = p.messageId
    w.set('chats', p.chatId, chat)
  },
  'chat.participant.joined': (w, p) => addOnce(w, 'chats', p.chatId, newChat, 'participants', p.participantId),
  'chat.participant.left': (w, p) => {
    const prev = getKey(w.state.chats, p.chatId)
    if (!prev || !prev.participants.includes(p.participantId)) return
    const chat = w.own(prev)
    const participants = w.own(chat.participants)
    for (let i = participants.length - 1; i >= 0; i--) if (participants[i] === p.participantId) participants.splice(i, 1)
    chat.participants = participants
    w.set('chats', p.chatId, chat)
  },
} satisfies EntityReducer

function record(w: StateWriter, p: PayloadOf<'chat.created' | 'chat.updated'>): void {
  upsert(w, 'chats', p.chatId, getKey(w.state.chats, p.chatId), newChat, { chat: p.chat })
}

function newChat(id: string): Mutable<ChatView> {
  return { id, messages: 0, participants: NONE }
}
