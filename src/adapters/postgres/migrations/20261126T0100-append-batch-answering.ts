import { sql, type Kysely } from 'kysely'

/**
 * One commit per command: append_batch plus, for the appends that carry one, the answer to the
 * HTTP request that made them, stored as a finished Idempotency-Key row in the same transaction.
 *
 * Extra input, one entry per answering append: its index in the batch (`a_append`, the values of
 * `p_append`) and the row to store. At most one answer per (principal, key) in a batch (the store
 * keeps a second one for the next batch).
 *
 * First the keys are claimed: a key with no row, or whose row has expired, takes this answer. An
 * append whose key is held (an answer already stored, a request still in flight under it, or the
 * same key used for another request) is not attempted: its parts come back `key_taken` and nothing
 * of it is written. The other appends go through append_batch unchanged (its outcomes, its locks,
 * its gapless head); a claim whose append was then refused (`wrong`, `partial`, `elsewhere`) is
 * removed again, so the key stays free for the retry. Claims take the key rows' locks before
 * append_batch takes the streams', in every batch, so two batches cannot wait on each other.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION append_batch_answering(
      p_append integer[], p_stream text[], p_expected text[], p_count integer[],
      e_id uuid[], e_type text[], e_data jsonb[], e_meta jsonb[],
      a_append integer[], a_principal text[], a_key text[], a_hash text[],
      a_status integer[], a_body jsonb[], a_headers jsonb[], a_ttl_hours integer[]
    ) RETURNS TABLE (o_part bigint, o_outcome text, o_revision integer, o_position bigint, o_actual integer)
    LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
      n_parts integer := coalesce(array_length(p_stream, 1), 0);
      claimed integer[];
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
      WITH claim AS (
        INSERT INTO idempotency_keys AS k
          (principal, key, request_hash, state, response_status, response_body, response_headers, locked_until, lock_token, expires_at)
        SELECT t.principal, t.key, t.hash, 'done', t.status, t.body, t.headers, now(), NULL, now() + make_interval(hours => t.ttl)
        FROM unnest(a_principal, a_key, a_hash, a_status, a_body, a_headers, a_ttl_hours) AS t(principal, key, hash, status, body, headers, ttl)
        ORDER BY 1, 2
        ON CONFLICT (principal, key) DO UPDATE SET
          request_hash = excluded.request_hash, state = 'done', response_status = excluded.response_status,
          response_body = excluded.response_body, response_headers = excluded.response_headers, created_at = now(),
          locked_until = excluded.locked_until, lock_token = NULL, expires_at = excluded.expires_at
        WHERE k.expires_at < now()
        RETURNING k.principal, k.key)
      SELECT coalesce(array_agg(a.ap), '{}') INTO claimed
        FROM claim JOIN unnest(a_principal, a_key, a_append) AS a(pr, ky, ap) ON a.pr = claim.principal AND a.ky = claim.key;

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
          IF r.o_outcome NOT IN ('written', 'replayed') AND p_append[i] = ANY(claimed) THEN refused := refused || p_append[i]; END IF;
        END LOOP;
      END IF;

      IF array_length(refused, 1) IS NOT NULL THEN
        DELETE FROM idempotency_keys k USING unnest(a_principal, a_key, a_append) AS a(pr, ky, ap)
          WHERE a.ap = ANY(refused) AND k.principal = a.pr AND k.key = a.ky;
      END IF;

      RETURN QUERY SELECT u.ord, u.oc, u.rv, u.ps, u.ac FROM unnest(r_outcome, r_revision, r_position, r_actual) WITH ORDINALITY AS u(oc, rv, ps, ac, ord);
    END
    $fn$;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION append_batch_answering(integer[], text[], text[], integer[], uuid[], text[], jsonb[], jsonb[], integer[], text[], text[], text[], integer[], jsonb[], jsonb[], integer[])`.execute(db)
}
