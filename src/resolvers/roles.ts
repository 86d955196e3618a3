import type { AuthChecker } from 'type-graphql';
import type { Context } from '../context.js';
import { AccountKind } from '../entities/index.js';
import { DomainError } from '../errors.js';

export const Role = AccountKind;

/**
 * Deny by default: every query, mutation and subscription carries @Authorized() (login alone excepted); roles are
 * account kinds. No caller at all is UNAUTHENTICATED. Field resolvers carry none: they are reached only through
 * an authorized root field, and type-graphql's check is an async middleware per call (on a tree of two hundred
 * accounts, a fifth of the request's time). test/auth.test.ts calls every query and mutation anonymously.
 */
export const authChecker: AuthChecker<Context, AccountKind> = ({ context }, roles) => {
  if (!context.actor) throw new DomainError('UNAUTHENTICATED');
  return roles.length === 0 || roles.includes(context.actor.kind);
};
