//! The fixture matrix: every state × {1, 4} peers × {0, 100 ms} latency completes and equals the source.

use std::time::Duration;

use downloader::DownloaderConfig;

use crate::fixtures::*;

async fn complete_everywhere(state: &State) {
    for peers in [1, 4] {
        for latency in [Duration::ZERO, Duration::from_millis(100)] {
            let (result, local, _, _) =
                sync_from(state, &honest(peers, latency), DownloaderConfig::default()).await;
            let report = result.unwrap_or_else(|e| panic!("{peers} peers, {latency:?}: {e}"));
            assert_equals_source(local.as_ref(), state);
            assert_eq!(report.nodes as usize, state.nodes.len(), "{peers} peers, {latency:?}");
            assert_eq!(report.codes as usize, state.codes.len());
            assert_eq!(report.processed as usize, state.entries(), "nothing fetched twice");
            assert!(report.peers_dropped.is_empty(), "honest peers dropped: {:?}", report.peers_dropped);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn empty_state() {
    complete_everywhere(&empty()).await;
}

#[tokio::test(start_paused = true)]
async fn one_account() {
    complete_everywhere(&crate::fixtures::one_account()).await;
}

#[tokio::test(start_paused = true)]
async fn accounts_sharing_storage_and_code() {
    let state = shared_storage_and_code();
    assert_eq!(state.codes.len(), 1);
    complete_everywhere(&state).await;
}

#[tokio::test(start_paused = true)]
async fn synthetic_state() {
    complete_everywhere(&synthetic(1, 1_000)).await;
}

/// The 10k-account state, once (4 peers, 100 ms), with a small commit threshold so it commits often.
#[tokio::test(start_paused = true)]
async fn synthetic_10k_accounts() {
    let state = synthetic(2, 10_000);
    let config = DownloaderConfig { commit_threshold: 256 << 10, ..DownloaderConfig::default() };
    let (result, local, _, _) = sync_from(&state, &honest(4, Duration::from_millis(100)), config).await;
    let report = result.expect("sync");
    assert_equals_source(local.as_ref(), &state);
    assert_eq!(report.processed as usize, state.entries());
}

#[tokio::test(start_paused = true)]
async fn mainnet_genesis() {
    let Some(state) = crate::fixtures::mainnet_genesis("mainnet_genesis") else { return };
    complete_everywhere(&state).await;
}
