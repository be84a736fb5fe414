import type pg from 'pg'

/**
 * Rewrites one stored event's data with the immutability trigger disabled inside one transaction
 * (and enabled again before it commits): what an attacker with database access could do.
 * Changes exactly one byte: the last digit of the event's `amount`. Gives back a function that
 * restores the original.
 */
export async function changeOneByteOfEvent(pool: pg.Pool, position: string): Promise<{ before: string; after: string; restore(): Promise<void> }> {
  const { rows } = await pool.query<{ data: Record<string, unknown> }>('SELECT data FROM events WHERE position = $1', [position])
  const data = rows[0]!.data
  const before = data.amount as string
  const last = before.at(-1)!
  const after = `${before.slice(0, -1)}${last === '9' ? '8' : String(Number(last) + 1)}`
  await withTriggerDisabled(pool, (c) => c.query(`UPDATE events SET data = jsonb_set(data, '{amount}', to_jsonb($2::text)) WHERE position = $1`, [position, after]))
  return {
    before,
    after,
    restore: () => withTriggerDisabled(pool, (c) => c.query(`UPDATE events SET data = jsonb_set(data, '{amount}', to_jsonb($2::text)) WHERE position = $1`, [position, before])).then(() => undefined),
  }
}

async function withTriggerDisabled<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('ALTER TABLE events DISABLE TRIGGER events_no_update_delete')
    const result = await work(client)
    await client.query('ALTER TABLE events ENABLE TRIGGER events_no_update_delete')
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK')
    throw err
  } finally {
    client.release()
  }
}

/** Deletes one audit row; gives back a function that puts it back. */
export async function deleteAuditRow(pool: pg.Pool, position: string): Promise<() => Promise<void>> {
  const { rows } = await pool.query('DELETE FROM audit_log WHERE position = $1 RETURNING *', [position])
  const row = rows[0] as Record<string, unknown>
  return async () => {
    const columns = Object.keys(row)
    await pool.query(`INSERT INTO audit_log (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, columns.map((c) => row[c]))
  }
}

/** Replaces one audit row's hash by another well-formed one; gives back a function that restores it. */
export async function changeAuditHash(pool: pg.Pool, position: string): Promise<() => Promise<void>> {
  const { rows } = await pool.query<{ hash: string }>('SELECT hash FROM audit_log WHERE position = $1', [position])
  const hash = rows[0]!.hash
  const forged = `${hash.slice(0, -1)}${hash.at(-1) === '0' ? '1' : '0'}`
  await pool.query('UPDATE audit_log SET hash = $2 WHERE position = $1', [position, forged])
  return async () => void (await pool.query('UPDATE audit_log SET hash = $2 WHERE position = $1', [position, hash]))
}
