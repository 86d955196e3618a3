import { dictionary } from '@zxcvbn-ts/language-common';
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
