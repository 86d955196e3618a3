import type { Em } from '../db/orm.js';
import { RateGroup } from '../entities/index.js';
import { badInput } from '../errors.js';

/** For assigning a group to an account: it must be one of the account's parent's own groups. */
export async function requireParentsGroup(em: Em, rateGroupId: string, parentId: string): Promise<RateGroup> {
  const group = await em.findOne(RateGroup, { id: rateGroupId });
  if (!group || group.ownerId !== parentId) {
    throw badInput('rateGroupId', "The rate group must be one of the parent account's own rate groups");
  }
  return group;
}
