import { randomUUID } from 'node:crypto'
import type { CommandMetadata } from '../../src/commands/handler.ts'

export const meta = (overrides: Partial<CommandMetadata> = {}): CommandMetadata => ({
  commandId: randomUUID(),
  actor: 'test-backend',
  occurredAt: '2026-11-26T12:00:00.000Z',
  ...overrides,
})
