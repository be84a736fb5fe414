import { sql, type Kysely } from 'kysely'

/**
 * The event store's group commit as one function, so that a whole batch of appends costs one round
 * trip and, called outside an explicit transaction, one COMMIT.
 *
 * Input: the batch's parts (one per stream of each append, grouped by append, in queue order) and
 * their events, in part order. Output: one row per part, in input order:
 * - `written`: revision and position of the part's last event;
 * - `replayed`: every id of the append was already written to its own streams: the original result;
 * - `partial` / `elsewhere`: some ids already written, or written to another stream (EventIdConflict);
 * - `wrong`: the append's expectation failed; `actual` is set on the part that failed.
 *
 * Stream rows are locked first (one statement, in stream order, a missing stream locked through a
 * row at -1 that is removed again unless written), then the ids already written are looked up with
 * a snapshot taken after those locks, each append is decided in order against the running
 * revisions, and one statement takes the head and inserts every accepted event: the head is the
 * last lock taken and is held until COMMIT, which keeps the log gapless and commit-ordered.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION append_batch(
      p_append integer[], p_stream text[], p_expected text[], p_count integer[],
      e_id uuid[], e_type text[], e_data jsonb[], e_meta jsonb[]
    ) RETURNS TABLE (o_part bigint, o_outcome text, o_revision integer, o_position bigint, o_actual integer)
    LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
      n_parts integer := coalesce(array_length(p_stream, 1), 0);
      s_name text[];
      s_before integer[];
      s_now integer[];
      k_id uuid[];
      k_stream text[];
      k_rev integer[];
      k_pos bigint[];
      first_event integer[] := '{}';
      r_outcome text[] := array_fill(NULL::text, ARRAY[n_parts]);
      r_revision integer[] := array_fill(NULL::integer, ARRAY[n_parts]);
      r_position bigint[] := array_fill(NULL::bigint, ARRAY[n_parts]);
      last_row integer[] := array_fill(NULL::integer, ARRAY[n_parts]);
      r_actual integer[] := array_fill(NULL::integer, ARRAY[n_parts]);
      w_stream text[] := '{}';
      w_rev integer[] := '{}';
      w_idx integer[] := '{}';
      n_rows integer := 0;
      head bigint;
      a_first integer;
      a_last integer;
      i integer;
      j integer;
      x integer;
      k integer;
      s integer;
      n_known integer;
      n_events integer;
      verdict text;
      cur integer;
      ex text;
      changed_name text[] := '{}';
      changed_rev integer[] := '{}';
      unused text[] := '{}';
    BEGIN
      WITH locked AS (
        INSERT INTO streams (stream, revision)
        SELECT DISTINCT st, -1 FROM unnest(p_stream) AS st ORDER BY 1
        ON CONFLICT (stream) DO UPDATE SET revision = streams.revision
        RETURNING streams.stream, streams.revision)
      SELECT array_agg(l.stream), array_agg(l.revision) INTO s_name, s_before FROM locked l;
      s_now := s_before;

      SELECT coalesce(array_agg(ev.event_id), '{}'), coalesce(array_agg(ev.stream), '{}'),
             coalesce(array_agg(ev.revision), '{}'), coalesce(array_agg(ev.position), '{}')
        INTO k_id, k_stream, k_rev, k_pos
        FROM events ev WHERE ev.event_id = ANY(e_id);

      x := 1;
      FOR i IN 1 .. n_parts LOOP
        first_event := first_event || x;
        x := x + p_count[i];
      END LOOP;

      i := 1;
      WHILE i <= n_parts LOOP
        a_first := i;
        WHILE i < n_parts AND p_append[i + 1] = p_append[a_first] LOOP i := i + 1; END LOOP;
        a_last := i;
        i := i + 1;

        n_known := 0;
        n_events := 0;
        verdict := NULL;
        IF array_length(k_id, 1) IS NOT NULL THEN
          FOR j IN a_first .. a_last LOOP
            FOR x IN first_event[j] .. first_event[j] + p_count[j] - 1 LOOP
              k := array_position(k_id, e_id[x]);
              IF k IS NOT NULL THEN
                n_known := n_known + 1;
                IF k_stream[k] <> p_stream[j] THEN verdict := 'elsewhere'; END IF;
              END IF;
            END LOOP;
          END LOOP;
        END IF;
        FOR j IN a_first .. a_last LOOP n_events := n_events + p_count[j]; END LOOP;

        IF n_known > 0 THEN
          IF verdict IS NULL AND n_known < n_events THEN verdict := 'partial'; END IF;
          IF verdict IS NULL THEN
            verdict := 'replayed';
            FOR j IN a_first .. a_last LOOP
              FOR x IN first_event[j] .. first_event[j] + p_count[j] - 1 LOOP
                k := array_position(k_id, e_id[x]);
                IF r_revision[j] IS NULL OR k_rev[k] > r_revision[j] THEN
                  r_revision[j] := k_rev[k];
                  r_position[j] := k_pos[k];
                END IF;
              END LOOP;
            END LOOP;
          END IF;
          FOR j IN a_first .. a_last LOOP r_outcome[j] := verdict; END LOOP;
          CONTINUE;
        END IF;

        FOR j IN a_first .. a_last LOOP
          cur := s_now[array_position(s_name, p_stream[j])];
          ex := p_expected[j];
          IF NOT (ex = 'any' OR (ex = 'no_stream' AND cur = -1) OR (ex = 'stream_exists' AND cur >= 0)
                  OR (ex ~ '^-?[0-9]+$' AND ex::integer = cur)) THEN
            verdict := 'wrong';
            r_actual[j] := cur;
            EXIT;
          END IF;
        END LOOP;
        IF verdict = 'wrong' THEN
          FOR j IN a_first .. a_last LOOP r_outcome[j] := 'wrong'; END LOOP;
          CONTINUE;
        END IF;

        FOR j IN a_first .. a_last LOOP
          s := array_position(s_name, p_stream[j]);
          cur := s_now[s];
          FOR x IN 1 .. p_count[j] LOOP
            w_stream := w_stream || p_stream[j];
            w_rev := w_rev || (cur + x);
            w_idx := w_idx || (first_event[j] + x - 1);
          END LOOP;
          n_rows := n_rows + p_count[j];
          s_now[s] := cur + p_count[j];
          r_outcome[j] := 'written';
          r_revision[j] := s_now[s];
          last_row[j] := n_rows;
        END LOOP;
      END LOOP;

      FOR s IN 1 .. coalesce(array_length(s_name, 1), 0) LOOP
        IF s_now[s] = -1 THEN
          unused := unused || s_name[s];
        ELSIF s_now[s] <> s_before[s] THEN
          changed_name := changed_name || s_name[s];
          changed_rev := changed_rev || s_now[s];
        END IF;
      END LOOP;
      DELETE FROM streams st WHERE st.stream = ANY(unused);

      IF n_rows > 0 THEN
        UPDATE streams st SET revision = v.rev
          FROM unnest(changed_name, changed_rev) AS v(name, rev) WHERE st.stream = v.name;
        WITH h AS (UPDATE event_head SET position = event_head.position + n_rows WHERE id RETURNING event_head.position),
        ins AS (
          INSERT INTO events (position, stream, revision, event_id, type, data, metadata)
          SELECT h.position - n_rows + t.ord, t.stream, t.rev, e_id[t.idx], e_type[t.idx], e_data[t.idx], e_meta[t.idx]
          FROM h, unnest(w_stream, w_rev, w_idx) WITH ORDINALITY AS t(stream, rev, idx, ord))
        SELECT h.position INTO head FROM h;
        FOR j IN 1 .. n_parts LOOP
          IF r_outcome[j] = 'written' THEN r_position[j] := head - n_rows + last_row[j]; END IF;
        END LOOP;
      END IF;

      RETURN QUERY SELECT u.ord, u.oc, u.rv, u.ps, u.ac FROM unnest(r_outcome, r_revision, r_position, r_actual) WITH ORDINALITY AS u(oc, rv, ps, ac, ord);
    END
    $fn$;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION append_batch(integer[], text[], text[], integer[], uuid[], text[], jsonb[], jsonb[])`.execute(db)
}
