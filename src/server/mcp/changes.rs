//! Telling subscribed agents that the lake changed. One watcher per server
//! (started by the first subscription) reads the catalog's change counter
//! twice a second; when a snapshot is committed (by this server or any
//! other process) it works out which datasets changed and broadcasts that.
//! Each subscribed session forwards what concerns it: `resources/updated`
//! for a dataset it subscribed to, `resources/list_changed` when datasets
//! came or went.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, SubscriptionContext};
use rmcp::{ErrorData, RoleServer};
use tokio::sync::broadcast;

use super::{LakeMcp, RESOURCE_PREFIX};
use crate::server::AppState;

/// How often the watcher reads the change counter.
const POLL: Duration = Duration::from_millis(500);

/// What one new snapshot changed.
#[derive(Clone, Debug)]
pub(crate) struct Change {
    /// Resources (`lake://datasets/<name>`) whose dataset changed.
    pub updated: Arc<HashSet<String>>,
    /// Whether datasets were created or removed.
    pub list_changed: bool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Each dataset's version now, by resource URI.
fn versions(state: &AppState) -> Option<HashMap<String, u64>> {
    let lake = state.lake().ok()?;
    let summaries = lake.summaries().ok()?;
    Some(
        summaries
            .into_iter()
            .map(|d| (format!("{RESOURCE_PREFIX}{}", d.name), d.version))
            .collect(),
    )
}

/// Starts the server's watcher unless it runs already.
fn start_watcher(state: &Arc<AppState>) {
    if state
        .watching
        .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let mut last = None;
        let mut known: Option<HashMap<String, u64>> = None;
        loop {
            let shared = state.clone();
            let polled = tokio::task::spawn_blocking(move || {
                let snapshot = shared.queries.current().ok()?.0.snapshot();
                Some((snapshot, shared))
            })
            .await
            .ok()
            .flatten();
            if let Some((snapshot, shared)) = polled
                && last != Some(snapshot)
            {
                let now = tokio::task::spawn_blocking(move || versions(&shared))
                    .await
                    .ok()
                    .flatten();
                if let (Some(before), Some(now)) = (&known, &now) {
                    let updated: HashSet<String> = now
                        .iter()
                        .filter(|(uri, v)| before.get(*uri) != Some(v))
                        .map(|(uri, _)| uri.clone())
                        .chain(before.keys().filter(|u| !now.contains_key(*u)).cloned())
                        .collect();
                    let list_changed =
                        before.len() != now.len() || before.keys().any(|u| !now.contains_key(u));
                    tracing::debug!(?updated, list_changed, snapshot, "catalog changed");
                    if !updated.is_empty() || list_changed {
                        // No receiver left is fine: the next subscriber
                        // starts from the present.
                        let _ = state.changes.send(Change {
                            updated: Arc::new(updated),
                            list_changed,
                        });
                    }
                }
                if now.is_some() {
                    known = now;
                    last = Some(snapshot);
                }
            }
            tokio::time::sleep(POLL).await;
        }
    });
}

impl LakeMcp {
    /// Forwards changes to this session's subscriptions (protocol versions
    /// before 2026-07-28: `resources/subscribe`), from its first
    /// subscription until its client is gone.
    pub(super) fn start_notifier(&self, peer: Peer<RoleServer>) {
        if self
            .notifying
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let mut changes = self.state.changes.subscribe();
        start_watcher(&self.state);
        let subscribed = self.subscribed.clone();
        tokio::spawn(async move {
            loop {
                let change = match changes.recv().await {
                    Ok(change) => change,
                    // Fell behind: say every subscription changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => Change {
                        updated: Arc::new(lock(&subscribed).clone()),
                        list_changed: true,
                    },
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if change.list_changed && peer.notify_resource_list_changed().await.is_err() {
                    return;
                }
                tracing::debug!(?change, "forwarding a change");
                let due: Vec<String> = lock(&subscribed)
                    .intersection(&change.updated)
                    .cloned()
                    .collect();
                for uri in due {
                    let param = ResourceUpdatedNotificationParam::new(uri);
                    if peer.notify_resource_updated(param).await.is_err() {
                        return; // the session is over
                    }
                }
            }
        });
    }

    /// One `subscriptions/listen` (protocol 2026-07-28): forwards what the
    /// accepted filter asks for until the client cancels.
    pub(super) async fn listen_for_changes(
        &self,
        context: SubscriptionContext,
    ) -> Result<(), ErrorData> {
        let mut changes = self.state.changes.subscribe();
        start_watcher(&self.state);
        let accepted = context.accepted().clone();
        let wanted: HashSet<String> = accepted
            .resource_subscriptions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let list = accepted.resources_list_changed == Some(true);
        loop {
            let change = tokio::select! {
                () = context.cancelled() => return Ok(()),
                change = changes.recv() => match change {
                    Ok(change) => change,
                    Err(broadcast::error::RecvError::Lagged(_)) => Change {
                        updated: Arc::new(wanted.clone()),
                        list_changed: true,
                    },
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            };
            let sink = context.sink();
            let failed = |e: rmcp::service::SubscriptionSendError| {
                ErrorData::internal_error(e.to_string(), None)
            };
            if list && change.list_changed {
                sink.notify_resource_list_changed().await.map_err(failed)?;
            }
            for uri in wanted.intersection(&change.updated) {
                sink.notify_resource_updated(uri.clone())
                    .await
                    .map_err(failed)?;
            }
        }
    }
}
