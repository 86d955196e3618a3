import { longestPrefix, prefixLengths } from '../billing/index.js';
import type { Direction } from '../entities/index.js';

/** A rate as read from the database, kept as strings: the cache holds many, the caller makes Decimals. */
export interface RateRow {
  rate_group_id: string;
  direction: Direction;
  prefix: string;
  destination: string | null;
  rate_per_minute: string;
  connection_fee: string;
  initial_increment: number;
  increment: number;
}

/** One rate group's rates at one version, indexed for longest-prefix matching. */
export interface Deck {
  version: string;
  size: number;
  byKey: Map<string, RateRow>;
  /** The prefix lengths present, longest first: a number is tried only at lengths some prefix has. */
  lengths: number[];
  /** Too large to hold: only the version is kept, and lookups go to the database. */
  oversized: boolean;
}

export function buildDeck(version: string, rows: RateRow[], oversized = false): Deck {
  const byKey = new Map(rows.map((r) => [`${r.direction}:${r.prefix}`, r]));
  return { version, size: rows.length, byKey, lengths: prefixLengths(rows.map((r) => r.prefix)), oversized };
}

/** The longest prefix of `number` with a rate in the deck for that direction. */
export function matchDeck(deck: Deck, number: string, direction: Direction): RateRow | null {
  return longestPrefix(number, deck.lengths, (prefix) => deck.byKey.get(`${direction}:${prefix}`));
}

/**
 * Rate groups' decks held in memory, each under the version the database gave its group when last written.
 * A reader always asks the database for the current versions first (in its own transaction and scope), so a
 * deck is used only when it is exactly what that transaction would read: a change committed by any instance,
 * or made earlier in the same transaction, has a new version and is loaded afresh. Versions come from a
 * sequence, so a version written by a transaction that rolled back is never given again. Least recently used
 * decks are dropped past `maxRates` rates in all; a group larger than that is never held and is looked up
 * in the database instead.
 */
export class RateDecks {
  private readonly decks = new Map<string, Deck>();
  private held = 0;

  constructor(readonly maxRates: number) {}

  get enabled(): boolean {
    return this.maxRates > 0;
  }

  get(groupId: string, version: string): Deck | undefined {
    const deck = this.decks.get(groupId);
    if (!deck || deck.version !== version) return undefined;
    // Re-inserted to mark it recently used (a Map iterates in insertion order).
    this.decks.delete(groupId);
    this.decks.set(groupId, deck);
    return deck;
  }

  put(groupId: string, deck: Deck): void {
    const previous = this.decks.get(groupId);
    if (previous) {
      this.decks.delete(groupId);
      this.held -= previous.size;
    }
    this.decks.set(groupId, deck);
    this.held += deck.size;
    for (const [id, old] of this.decks) {
      if (this.held <= this.maxRates) break;
      this.decks.delete(id);
      this.held -= old.size;
    }
  }
}
