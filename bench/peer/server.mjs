// PostGraphile 5 serving the bench's two read shapes from the bench database, for the record beside Trellis
// (`npm run bench`, section `page`, when `npm run bench:peer` installed it). As the peer was first measured: no
// authentication and no row-level security (it connects as the database's owner), its default settings
// otherwise. Trellis serves the same data with its JWT, both layers of scoping and a transaction per request.
//
// The `peer` schema is a view of the accounts with the names and formats Trellis answers with, so that the
// documents in bench/reads.ts (PEER_PAGE_QUERY, PEER_TREE_QUERY) return exactly Trellis's JSON.
import { createServer } from 'node:http';
import process from 'node:process';
import pg from 'pg';

// PostGraphile 5 wants Node 22; Promise.withResolvers is the one thing it uses that Node 20 lacks.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new this((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
};

const { postgraphile } = await import('postgraphile');
const { PostGraphileAmberPreset } = await import('postgraphile/presets/amber');
const { makePgService } = await import('postgraphile/adaptors/pg');
const { grafserv } = await import('postgraphile/grafserv/node');

const connectionString = process.env.DATABASE_URL;
// Without it, pg would connect wherever its environment points, and this script drops a schema there.
if (!connectionString) throw new Error('DATABASE_URL must name the bench database');
const port = Number(process.env.PORT);

const setup = new pg.Client({ connectionString });
await setup.connect();
await setup.query(`
  drop schema if exists peer cascade;
  create schema peer;
  create view peer.accounts as
    select id, name, trim_scale(balance)::text as balance, credit_limit, parent_id, path, seq
      from public.accounts where status <> 'DELETED';
  comment on view peer.accounts is E'@primaryKey id\n@foreignKey (parent_id) references peer.accounts (id)|@fieldName parent|@foreignFieldName children';
  create function peer.accounts_available_balance(a peer.accounts) returns text
    language sql stable as $$ select trim_scale(a.balance::numeric + a.credit_limit)::text $$;
  comment on function peer.accounts_available_balance(peer.accounts) is '@fieldName availableBalance';
  -- The page: an account's descendants, oldest first (the ceiling's subtree predicate).
  create function peer.descendants(root text) returns setof peer.accounts
    language sql stable as $$
      select a.* from peer.accounts a, public.accounts me
       where me.id = root and a.id <> root
         -- The subtree as a range of paths too, as the ceiling reads it, so that the index serves it.
         and a.path ~>=~ me.path and a.path ~<~ (left(me.path, -1) || '0') and a.path like me.path || '%'
       order by a.seq $$;
`);
await setup.end();

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ connectionString, schemas: ['peer'], poolConfig: { max: 16 } })],
  grafserv: { port, graphiql: false, watch: false },
  grafast: { explain: false },
};
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on('error', (error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
serv.addTo(server);
server.listen(port, '127.0.0.1');
const stop = () => server.close(() => pgl.release().then(() => process.exit(0)));
process.on('SIGTERM', stop);
