import t from 'tap'
import { MemoryEventStore } from '../../../src/adapters/event-store/memory.ts'
import { eventStoreContract } from '../../helpers/event-store-contract.ts'

const store = new MemoryEventStore()
t.teardown(() => store.close())
await eventStoreContract(t, store)
