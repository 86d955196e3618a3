import { dictionary } from '@zxcvbn-ts/language-common';
import { IANAZone } from 'luxon';
import { badInput } from '../errors.js';
import { Decimal } from '../money.js';

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export function requireText(field: string, value: string, max = 200): string {
  const v = value.trim();
  if (v.length < 1 || v.length > max) throw badInput(field, `${field} must be 1 to ${max} characters`);
  return v;
}

export function optionalText(field: string, value: string | null | undefined, max = 2000): string | null | undefined {
  if (value === undefined || value === null) return value;
  const v = value.trim();
  if (v.length > max) throw badInput(field, `${field} must be at most ${max} characters`);
  return v === '' ? null : v;
}

export function normalizeEmail(field: string, value: string): string {
  const v = value.trim().toLowerCase();
  if (v.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) throw badInput(field, 'Not a valid email address');
  return v;
}

// Only the list's entries of at least the minimum length can match: the shorter ones are refused anyway.
const MIN_PASSWORD = 10;
const COMMON_PASSWORDS = new Set(
  (dictionary['passwords-common'] as string[]).filter((p) => p.length >= MIN_PASSWORD).map((p) => p.toLowerCase()),
);

/** At least 10 characters, not the account's email, not one of the passwords attackers try first. */
export function validatePassword(field: string, value: string, email?: string | null): string {
  if (value.length < MIN_PASSWORD || value.length > 200)
    throw badInput(field, `Passwords must be ${MIN_PASSWORD} to 200 characters`);
  const lower = value.trim().toLowerCase();
  if (email && (lower === email.toLowerCase() || lower === email.toLowerCase().split('@')[0])) {
    throw badInput(field, 'The password cannot be the email address');
  }
  if (COMMON_PASSWORDS.has(lower)) throw badInput(field, 'This password is on a list of common passwords; choose another');
  return value;
}

export function normalizeCurrency(field: string, value: string): string {
  const v = value.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(v) || !CURRENCIES.has(v)) throw badInput(field, 'Not an ISO 4217 currency code');
  return v;
}

export function nonNegative(field: string, value: Decimal): Decimal {
  if (value.isNegative()) throw badInput(field, `${field} cannot be negative`);
  return value;
}

export function positive(field: string, value: Decimal): Decimal {
  if (value.lte(0)) throw badInput(field, `${field} must be greater than 0`);
  return value;
}

/** ISO 3166-1 alpha-2, the officially assigned codes. */
const COUNTRIES = new Set(
  `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC
   CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE
   GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
   KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
   NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH
   SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG
   VI VN VU WF WS YE YT ZA ZM ZW`.split(/\s+/),
);

export function normalizeCountry(field: string, value: string): string {
  const v = value.trim().toUpperCase();
  if (!COUNTRIES.has(v)) throw badInput(field, 'Not an ISO 3166 alpha-2 country code');
  return v;
}

export function normalizeTimezone(field: string, value: string): string {
  const v = value.trim();
  if (!IANAZone.isValidZone(v)) throw badInput(field, 'Not an IANA timezone name (such as Europe/London)');
  return v;
}

export function intInRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(field, `${field} must be from ${min} to ${max}`);
  return value;
}

/** DID tags ("london", "tollfree"): lower-cased, letters, digits and - _ . : only, at most 50 of them, no repeats. */
export function didTags(field: string, values: readonly string[]): string[] {
  const tags = [...new Set(values.map((t) => t.trim().toLowerCase()))];
  const bad = tags.find((t) => !/^[a-z0-9][a-z0-9_.:-]{0,49}$/.test(t));
  if (bad !== undefined) throw badInput(field, `Tags are 1 to 50 letters, digits, "-", "_", "." or ":" ("${bad}" is not)`);
  if (tags.length > 50) throw badInput(field, 'At most 50 tags');
  return tags;
}
