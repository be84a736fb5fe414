import { sql, type Kysely } from 'kysely'

/**
 * append_batch_answering also fences the appends of requests that hold their Idempotency-Key in
 * flight (`Prefer: wait`, and routes that answer after their append): such an append is written
 * only while its request still holds the key. Without it, a request whose lock lapsed (its process
 * stalled) could append after a retry had taken the key over and stored another answer.
 *
 * Two more arrays, one entry per answering append: `a_token`, NULL for an answer to store (as
 * before) or the request's lock token for a fence, and `a_lock_seconds`, the lock's length for a
 * fence. A fence goes through the same claim as an answer, in the same sorted statement, so the two
 * take the key rows' locks in one order. It holds only when the key's row is in flight under this
 * token, lapsed or not (its lock is renewed; the row keeps its creation and expiry times). Held by
 * another attempt, answered, or gone (a retry removed it as abandoned, and may have answered since
 * without storing its answer yet), the append is `key_taken` and nothing of it is written: a row
 * the claim inserted for a fence is removed again. A fenced append that is then refused keeps its
 * row in flight: its request stores the refusal.
 *
 * An overload beside the 16-argument function, which stays for processes of the previous release
 * still running during a rolling deploy (they neither send nor need fences): it becomes a call of
 * this one without fences, so the two cannot drift apart.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION append_batch_answering(
      p_append integer[], p_stream text[], p_expected text[], p_count integer[],
      e_id uuid[], e_type text[], e_data jsonb[], e_meta jsonb[],
      a_append integer[], a_principal text[], a_key text[], a_hash text[],
      a_status integer[], a_body jsonb[], a_headers jsonb[], a_ttl_hours integer[],
      a_token uuid[], a_lock_seconds integer[]
    ) RETURNS TABLE (o_part bigint, o_outcome text, o_revision integer, o_position bigint, o_actual integer)
    LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
      n_parts integer := coalesce(array_length(p_stream, 1), 0);
      claimed integer[];
      fenced integer[];
      inserted_fences integer[];
      refused integer[] := '{}';
      kept integer[] := '{}';
      f_append integer[] := '{}';
      f_stream text[] := '{}';
      f_expected text[] := '{}';
      f_count integer[] := '{}';
      f_id uuid[] := '{}';
      f_type text[] := '{}';
      f_data jsonb[] := '{}';
      f_meta jsonb[] := '{}';
      r_outcome text[] := array_fill('key_taken'::text, ARRAY[n_parts]);
      r_revision integer[] := array_fill(NULL::integer, ARRAY[n_parts]);
      r_position bigint[] := array_fill(NULL::bigint, ARRAY[n_parts]);
      r_actual integer[] := array_fill(NULL::integer, ARRAY[n_parts]);
      x integer := 1;
      i integer;
      j integer;
      r record;
    BEGIN
      SELECT coalesce(array_agg(a.ap), '{}') INTO fenced
        FROM unnest(a_append, a_token) AS a(ap, tk) WHERE a.tk IS NOT NULL;

      WITH claim AS (
        INSERT INTO idempotency_keys AS k
          (principal, key, request_hash, state, response_status, response_body, response_headers, locked_until, lock_token, expires_at)
        SELECT t.principal, t.key, t.hash,
               CASE WHEN t.token IS NULL THEN 'done' ELSE 'in_flight' END, t.status, t.body, t.headers,
               CASE WHEN t.token IS NULL THEN now() ELSE now() + make_interval(secs => t.lock_seconds) END,
               t.token, now() + make_interval(hours => t.ttl)
        FROM unnest(a_principal, a_key, a_hash, a_status, a_body, a_headers, a_ttl_hours, a_token, a_lock_seconds)
          AS t(principal, key, hash, status, body, headers, ttl, token, lock_seconds)
        ORDER BY 1, 2
        ON CONFLICT (principal, key) DO UPDATE SET
          request_hash = excluded.request_hash, state = excluded.state, response_status = excluded.response_status,
          response_body = excluded.response_body, response_headers = excluded.response_headers,
          created_at = CASE WHEN excluded.lock_token IS NULL THEN now() ELSE k.created_at END,
          locked_until = excluded.locked_until, lock_token = excluded.lock_token,
          expires_at = CASE WHEN excluded.lock_token IS NULL THEN excluded.expires_at ELSE k.expires_at END
        WHERE (excluded.lock_token IS NULL AND k.expires_at < now())
           OR (excluded.lock_token IS NOT NULL AND k.state = 'in_flight' AND k.lock_token = excluded.lock_token)
        RETURNING k.principal, k.key, k.lock_token IS NOT NULL AND k.xmax = 0 AS fresh_fence)
      SELECT coalesce(array_agg(a.ap) FILTER (WHERE NOT claim.fresh_fence), '{}'),
             coalesce(array_agg(a.ap) FILTER (WHERE claim.fresh_fence), '{}')
        INTO claimed, inserted_fences
        FROM claim JOIN unnest(a_principal, a_key, a_append) AS a(pr, ky, ap) ON a.pr = claim.principal AND a.ky = claim.key;

      -- A fence found no row to hold: the row its claim inserted goes, and its append is key_taken.
      IF array_length(inserted_fences, 1) IS NOT NULL THEN
        DELETE FROM idempotency_keys k USING unnest(a_principal, a_key, a_append) AS a(pr, ky, ap)
          WHERE a.ap = ANY(inserted_fences) AND k.principal = a.pr AND k.key = a.ky;
      END IF;

      FOR i IN 1 .. n_parts LOOP
        IF p_append[i] = ANY(claimed) OR NOT p_append[i] = ANY(a_append) THEN
          kept := kept || i;
          f_append := f_append || p_append[i];
          f_stream := f_stream || p_stream[i];
          f_expected := f_expected || p_expected[i];
          f_count := f_count || p_count[i];
          FOR j IN x .. x + p_count[i] - 1 LOOP
            f_id := f_id || e_id[j];
            f_type := f_type || e_type[j];
            f_data := f_data || e_data[j];
            f_meta := f_meta || e_meta[j];
          END LOOP;
        END IF;
        x := x + p_count[i];
      END LOOP;

      IF array_length(kept, 1) IS NOT NULL THEN
        FOR r IN SELECT * FROM append_batch(f_append, f_stream, f_expected, f_count, f_id, f_type, f_data, f_meta) LOOP
          i := kept[r.o_part::integer];
          r_outcome[i] := r.o_outcome;
          r_revision[i] := r.o_revision;
          r_position[i] := r.o_position;
          r_actual[i] := r.o_actual;
          IF r.o_outcome NOT IN ('written', 'replayed') AND p_append[i] = ANY(claimed) AND NOT p_append[i] = ANY(fenced) THEN
            refused := refused || p_append[i];
          END IF;
        END LOOP;
      END IF;

      IF array_length(refused, 1) IS NOT NULL THEN
        DELETE FROM idempotency_keys k USING unnest(a_principal, a_key, a_append) AS a(pr, ky, ap)
          WHERE a.ap = ANY(refused) AND k.principal = a.pr AND k.key = a.ky;
      END IF;

      RETURN QUERY SELECT u.ord, u.oc, u.rv, u.ps, u.ac FROM unnest(r_outcome, r_revision, r_position, r_actual) WITH ORDINALITY AS u(oc, rv, ps, ac, ord);
    END
    $fn$;

    CREATE OR REPLACE FUNCTION append_batch_answering(
      p_append integer[], p_stream text[], p_expected text[], p_count integer[],
      e_id uuid[], e_type text[], e_data jsonb[], e_meta jsonb[],
      a_append integer[], a_principal text[], a_key text[], a_hash text[],
      a_status integer[], a_body jsonb[], a_headers jsonb[], a_ttl_hours integer[]
    ) RETURNS TABLE (o_part bigint, o_outcome text, o_revision integer, o_position bigint, o_actual integer)
    LANGUAGE sql AS $fn$
      SELECT * FROM append_batch_answering(p_append, p_stream, p_expected, p_count, e_id, e_type, e_data, e_meta,
        a_append, a_principal, a_key, a_hash, a_status, a_body, a_headers, a_ttl_hours, NULL::uuid[], NULL::integer[])
    $fn$;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION append_batch_answering(integer[], text[], text[], integer[], uuid[], text[], jsonb[], jsonb[], integer[], text[], text[], text[], integer[], jsonb[], jsonb[], integer[]);
    DROP FUNCTION append_batch_answering(integer[], text[], text[], integer[], uuid[], text[], jsonb[], jsonb[], integer[], text[], text[], text[], integer[], jsonb[], jsonb[], integer[], uuid[], integer[]);
  `.execute(db)
  // The 16-argument function as it was before it became a call of the 18-argument one.
  const { up: before } = await import('./20261126T0100-append-batch-answering.ts')
  await before(db)
}
