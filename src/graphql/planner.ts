import {
  getArgumentValues,
  getNamedType,
  getVariableValues,
  isNonNullType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { collectFields, collectSubfields } from 'graphql/execution/collectFields.js';
import sql, { join, raw, type Sql } from 'sql-template-tag';
import { cursorSql, pageWindow, type PageArgs, type PageWindow } from '../services/pagination.js';

/**
 * Planned reads: a query whose every field has a plan is answered by one SQL statement in which PostgreSQL
 * builds the whole response's JSON, instead of resolving fields one by one (the approach of PostGraphile and
 * Hasura). Anything without a plan (a field, an argument, a paging direction) throws Unplannable, and the
 * document runs on the executor as before; the resolvers stay the reference the plans are tested against.
 *
 * This module is the GraphQL half: walking the selection as graphql-js would (fragments, aliases, @skip and
 * @include, merged fields, argument defaults) and composing the JSON. The SQL of each type lives next to its
 * rows (src/accounts/planned.ts).
 */
export class Unplannable extends Error {
  /**
   * `structural`: a field or type without a plan, found whatever the arguments (the caller still checks that no
   * directive could have hidden it before remembering the document as unplannable).
   */
  constructor(
    readonly structural: boolean,
    message = 'no plan',
  ) {
    super(message);
  }
}

/** One response key of an object: the field it reads, merged from every node that selects it. */
export interface Selection {
  key: string;
  name: string;
  nodes: readonly FieldNode[];
  /** Absent for __typename. */
  field?: GraphQLField<unknown, unknown>;
}

/**
 * What a plan needs of the caller: its account, and LIKE patterns of its subtree and of the scope its rows must lie
 * in. A plan uses each only as a value of its statement, never to decide its text (see plannedReads' cache).
 */
export interface PlanCaller {
  accountId: string;
  /** likePrefix of the caller's path. */
  subtree: string;
  /** likePrefix of the request's scope path. */
  scope: string;
}

/** A root field's plan: the SQL expression of its JSON value. */
export interface RootPlan {
  (plan: Plan, selection: Selection): Sql;
  /** Non-null in the schema, yet its statement may find nothing: the resolver then raises an error, so the executor must answer. */
  mayFindNothing?: boolean;
}

export class Plan {
  private aliases = 0;

  constructor(
    readonly schema: GraphQLSchema,
    private readonly fragments: Record<string, FragmentDefinitionNode>,
    private readonly variables: Record<string, unknown>,
    readonly caller: PlanCaller,
  ) {}

  /** A fresh table alias: nested levels read the same tables. */
  alias(): Sql {
    return raw(`t${++this.aliases}`);
  }

  objectType(name: string): GraphQLObjectType {
    const type = this.schema.getType(name);
    if (!isObjectType(type)) throw new Unplannable(true, `${name} is not an object type`);
    return type;
  }

  /** The type a selection returns, unwrapped. */
  returnType(selection: Selection): GraphQLObjectType {
    const type = getNamedType(selection.field!.type);
    if (!isObjectType(type)) throw new Unplannable(true, `${selection.name} is not an object`);
    return type;
  }

  /** The fields selected on an object of `type` by `nodes`, in response order, merged as graphql-js merges them. */
  fields(type: GraphQLObjectType, nodes: readonly FieldNode[]): Selection[] {
    return this.selections(type, collectSubfields(this.schema, this.fragments, this.variables, type, nodes));
  }

  rootFields(type: GraphQLObjectType, operation: OperationDefinitionNode): Selection[] {
    return this.selections(type, collectFields(this.schema, this.fragments, this.variables, type, operation.selectionSet));
  }

  /** A selection's arguments, coerced with their defaults; one that cannot be coerced is the executor's to report. */
  args(selection: Selection): Record<string, unknown> {
    try {
      return getArgumentValues(selection.field!, selection.nodes[0], this.variables);
    } catch {
      throw new Unplannable(false, 'arguments');
    }
  }

  private selections(type: GraphQLObjectType, fields: Map<string, readonly FieldNode[]>): Selection[] {
    const out: Selection[] = [];
    for (const [key, nodes] of fields) {
      const name = nodes[0].name.value;
      if (name === '__typename') {
        out.push({ key, name, nodes });
        continue;
      }
      const field = type.getFields()[name];
      if (!field) throw new Unplannable(true, `${type.name}.${name}`);
      out.push({ key, name, nodes, field });
    }
    return out;
  }
}

/** A JSON object with these keys in this order. Keys are GraphQL names ([_A-Za-z][_0-9A-Za-z]*), safe as literals. */
export function jsonObject(entries: readonly (readonly [string, Sql])[]): Sql {
  // json_build_object takes at most 100 arguments.
  if (entries.length > 50) throw new Unplannable(true, 'too many fields');
  if (!entries.length) return raw(`'{}'::json`);
  return sql`json_build_object(${join(entries.map(([key, value]) => sql`${raw(`'${key}'`)}, ${value}`))})`;
}

/** A constant string (a __typename). Type names are GraphQL names, safe as literals. */
export function text(value: string): Sql {
  return raw(`'${value}'::text`);
}

/** An object's JSON from its fields' SQL; `field` returns undefined for a field it has no plan for. */
export function objectJson(
  plan: Plan,
  type: GraphQLObjectType,
  nodes: readonly FieldNode[],
  field: (selection: Selection) => Sql | undefined,
): Sql {
  return jsonObject(
    plan.fields(type, nodes).map((s) => {
      if (s.name === '__typename') return [s.key, text(type.name)] as const;
      const value = field(s);
      if (!value) throw new Unplannable(true, `${type.name}.${s.name}`);
      return [s.key, value] as const;
    }),
  );
}

/** Condition SQL written with `?` placeholders (as the row modules write it), as a composable fragment. */
export function bound(condition: string, values: readonly unknown[]): Sql {
  const strings = condition.split('?');
  if (strings.length !== values.length + 1) throw new Error(`placeholders and values differ in: ${condition}`);
  return sql(strings, ...values);
}

export interface PlannedQuery {
  statement: Sql;
  /** Root keys that must not come back null (mayFindNothing): a null there is an error only the resolvers word. */
  required: string[];
}

/**
 * The whole operation as one statement returning its `data` as JSON text, or Unplannable. Only queries: the
 * operation must already have passed validation.
 */
export function planQuery(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown>,
  caller: PlanCaller,
  roots: Record<string, RootPlan>,
  /** Root fields the executor answers without a statement (from rows the request already holds): alone, they run there. */
  held: ReadonlySet<string> = new Set(),
): PlannedQuery {
  if (operation.operation !== 'query') throw new Unplannable(true, 'not a query');
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables);
  if (coerced.errors) throw new Unplannable(false, 'variables');
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const plan = new Plan(schema, fragments, coerced.coerced, caller);
  const queryType = schema.getQueryType()!;
  const required: string[] = [];
  const selections = plan.rootFields(queryType, operation);
  if (selections.every((s) => s.name === '__typename' || held.has(s.name))) throw new Unplannable(true, 'held');
  const entries = selections.map((s) => {
    if (s.name === '__typename') return [s.key, text(queryType.name)] as const;
    const root = roots[s.name];
    if (!root) throw new Unplannable(true, `Query.${s.name}`);
    if (root.mayFindNothing && isNonNullType(s.field!.type)) required.push(s.key);
    return [s.key, root(plan, s)] as const;
  });
  return { statement: sql`select ${jsonObject(entries)}::text as data`, required };
}

/** A list planned as a connection: its table, the conditions its rows meet (scope included), and its node's JSON. */
export interface PlannedList {
  table: string;
  /** Unqualified column names refer to the list's own table. */
  where: Sql;
  node: (row: Sql, nodes: readonly FieldNode[]) => Sql;
  /** The list's own order on seq: oldest first unless told. */
  order?: 'asc' | 'desc';
}

/**
 * A keyset connection (on `seq`, in the list's order) as JSON, with the semantics of Keyset in src/services/pagination.ts:
 * one row more than the page says whether another follows; past an `after` cursor, whether rows precede it.
 * Forward pages only: `last` and `before` are the executor's.
 */
export function connectionJson(plan: Plan, selection: Selection, list: PlannedList, args: PageArgs): Sql {
  let window: PageWindow;
  try {
    window = pageWindow(args);
  } catch {
    throw new Unplannable(false, 'page arguments');
  }
  if (window.backward || window.before) throw new Unplannable(false, 'backward paging');
  const type = plan.returnType(selection);
  const fields = type.getFields();
  const edgeType = getNamedType(fields.edges?.type);
  const pageInfoType = getNamedType(fields.pageInfo?.type);
  if (!isObjectType(edgeType) || !isObjectType(pageInfoType)) throw new Unplannable(true, `${type.name} is no connection`);
  const table = raw(list.table);
  const r = plan.alias();
  // The page size is a checked integer (pageWindow): written in, so the cursor expressions carry no values.
  const size = String(window.size);
  const onPage = `${r.sql}._n <= ${size}`;
  const cursor = (of: string) => raw(cursorSql(of));
  const desc = list.order === 'desc';
  const order = raw(desc ? 'desc' : 'asc');
  // Past `after` in the list's order, and the cursor's own row and those before it.
  const [later, earlierOrAt] = desc ? ['<', '>='] : ['>', '<='];
  const [first, last] = desc ? ['max', 'min'] : ['min', 'max'];
  const after = window.after ? sql` and seq ${raw(later)} ${window.after}::bigint` : sql``;
  const json = objectJson(plan, type, selection.nodes, (s) => {
    if (s.name === 'totalCount') return sql`(select count(*)::int from ${table} where ${list.where})`;
    if (s.name === 'edges') {
      const edge = objectJson(plan, edgeType, s.nodes, (e) => {
        if (e.name === 'cursor') return cursor(`${r.sql}.seq`);
        if (e.name === 'node') return list.node(r, e.nodes);
        return undefined;
      });
      return sql`coalesce(json_agg(${edge} order by ${r}.seq ${order}) filter (where ${raw(onPage)}), '[]'::json)`;
    }
    if (s.name === 'pageInfo') {
      return objectJson(plan, pageInfoType, s.nodes, (p) => {
        if (p.name === 'hasNextPage') return raw(`count(*) > ${size}`);
        if (p.name === 'hasPreviousPage')
          return window.after
            ? sql`exists (select 1 from ${table} where ${list.where} and seq ${raw(earlierOrAt)} ${window.after}::bigint)`
            : raw('false');
        if (p.name === 'startCursor') return cursor(`${first}(${r.sql}.seq) filter (where ${onPage})`);
        if (p.name === 'endCursor') return cursor(`${last}(${r.sql}.seq) filter (where ${onPage})`);
        return undefined;
      });
    }
    return undefined;
  });
  // One row whatever the page holds (`group by ()`), also when no field aggregates (totalCount alone).
  return sql`(select ${json} from (select ${r}.*, row_number() over (order by ${r}.seq ${order}) as _n
    from (select * from ${table} where ${list.where}${after} order by seq ${order} limit ${raw(String(window.size + 1))}) ${r}) ${r} group by ())`;
}
