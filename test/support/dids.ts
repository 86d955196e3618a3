/**
 * The numbers of a platform not in one consistent state (DOMAIN.md 12) after a renewal run as of `asOf`, with
 * what is wrong: AVAILABLE with no holder, in the platform's stock; otherwise held by its subscription's buyer at
 * level 0, no more of them than the package's didQuantity; ASSIGNED only to an ACTIVE subscription; ON_HOLD only
 * for one that ended or is past due, until didHoldDays after its end or boundary, and not past `asOf` (the run
 * frees holds that ended, and releases a past-due chain whose hold ended). The placeholders are the caller's
 * driver's (`?` through MikroORM, `$1` through pg).
 */
export function numberProblemsSql(root: string, asOf: string): string {
  return `
  select d.number, d.status, s.status as subscription, x.problem
    from (select d.*, count(*) over (partition by d.subscription_id) as held
            from dids d where d.root_id = ${root} and d.retired_at is null) d
    left join package_subscriptions s on s.id = d.subscription_id
    left join accounts a on a.id = d.account_id
    left join packages p on p.id = s.package_id
    left join package_terms t on t.id = p.terms_id
   cross join lateral (select case
     when d.status = 'AVAILABLE' then
       case when d.account_id is not null or d.subscription_id is not null or d.hold_until is not null
                 or d.assigned_at is not null or d.owner_path <> '/' || d.root_id || '/' then 'AVAILABLE with a holder' end
     when s.level <> 0 or s.account_id <> d.account_id or d.owner_path <> a.path or d.assigned_at is null
       then 'held by another account than its subscription''s buyer'
     when d.held > t.did_quantity then 'more numbers than the package''s didQuantity'
     when d.status = 'ASSIGNED' then
       case when s.status <> 'ACTIVE' or d.hold_until is not null then 'ASSIGNED to a subscription that is not ACTIVE' end
     when s.status not in ('PAST_DUE', 'RELEASED', 'TERMINATED', 'EXPIRED') then 'ON_HOLD for a subscription that is ' || s.status
     when d.hold_until <= ${asOf}::timestamptz then 'still ON_HOLD after its hold ended'
     when not (d.hold_until = s.current_period_end + t.did_hold_days * interval '1 day'
               or d.hold_until is not distinct from s.ended_at + t.did_hold_days * interval '1 day')
       then 'ON_HOLD until ' || d.hold_until || ', not didHoldDays after its boundary or end'
   end as problem) x
   where x.problem is not null
   order by d.seq`;
}
