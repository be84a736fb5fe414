import t from 'tap'
import { createPool } from '../../../src/adapters/postgres/database.ts'
import { testDatabase } from '../../helpers/database.ts'

t.test('a migrated database runs every new session with JIT off', async (t) => {
  const { url } = await testDatabase(t)
  const pool = createPool(url, 1)
  t.teardown(() => pool.end())
  const res = await pool.query<{ jit: string }>('SHOW jit')
  t.equal(res.rows[0]?.jit, 'off', 'set on the database by the jit-off migration, not by the driver')
})
