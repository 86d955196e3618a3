import { useEffect, useSyncExternalStore } from 'react';
import { onLiveChange, subscribe } from './api';
import {
  ConsoleAlertRaisedDocument,
  ConsoleBalanceChangedDocument,
  type ConsoleAlertFragment,
  type ConsoleBalanceChangedSubscription,
} from './generated/graphql';

export type BalanceEvent = ConsoleBalanceChangedSubscription['balanceChanged'];

/** The newest balance event per account, as pushed over graphql-ws since the console opened. */
const balances = new Map<string, BalanceEvent>();
const balanceListeners = new Set<(event: BalanceEvent) => void>();
const alerts: ConsoleAlertFragment[] = [];
let alertsVersion = 0;
const alertListeners = new Set<() => void>();
let live = false;
const liveListeners = new Set<() => void>();

onLiveChange((value) => {
  live = value;
  for (const listener of liveListeners) listener();
});

/** One subscription of each kind for the whole console, for every account in the caller's scope. */
export function startLive(): () => void {
  const stopBalances = subscribe(ConsoleBalanceChangedDocument, ({ balanceChanged }) => {
    const previous = balances.get(balanceChanged.account.id);
    if (previous && previous.at > balanceChanged.at) return;
    balances.set(balanceChanged.account.id, balanceChanged);
    for (const listener of balanceListeners) listener(balanceChanged);
  });
  const stopAlerts = subscribe(ConsoleAlertRaisedDocument, ({ alertRaised }) => {
    alerts.unshift(alertRaised);
    alertsVersion++;
    for (const listener of alertListeners) listener();
  });
  return () => {
    stopBalances();
    stopAlerts();
    balances.clear();
    alerts.length = 0;
    seen = 0;
  };
}

export function useLive(): boolean {
  return useSyncExternalStore(
    (cb) => (liveListeners.add(cb), () => liveListeners.delete(cb)),
    () => live,
  );
}

/** An account's balances: the loaded ones, or a newer pushed event's. */
export function useBalance(account: { id: string; balance: string; availableBalance: string }): {
  balance: string;
  availableBalance: string;
  changedAt?: string;
} {
  const event = useSyncExternalStore(
    (cb) => (balanceListeners.add(cb), () => balanceListeners.delete(cb)),
    () => balances.get(account.id),
  );
  return event ? { balance: event.balance, availableBalance: event.availableBalance, changedAt: event.at } : account;
}

export function useBalanceEvents(listener: (event: BalanceEvent) => void): void {
  useEffect(() => {
    balanceListeners.add(listener);
    return () => void balanceListeners.delete(listener);
  }, [listener]);
}

let seen = 0;

/** Alerts raised since the alerts view was last shown: the header's badge. */
export function useUnseenAlerts(): number {
  return useNewAlerts().length - seen;
}

export function markAlertsSeen(): void {
  seen = alerts.length;
  alertsVersion++;
  for (const listener of alertListeners) listener();
}

/** Alerts raised since the console opened, newest first. */
export function useNewAlerts(): ConsoleAlertFragment[] {
  useSyncExternalStore(
    (cb) => (alertListeners.add(cb), () => alertListeners.delete(cb)),
    () => alertsVersion,
  );
  return alerts;
}
