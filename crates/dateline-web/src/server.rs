//! The HTTP server: connections accepted within limits, served by hyper, drained on shutdown.
//!
//! Every connection is bounded: its request headers must arrive within a time and a size, an
//! idle keep-alive connection is closed when its next request does not begin in that time, a
//! request is answered within a time, and there are at most so many connections in all and from
//! one client address. A connection over a cap is answered `503` and closed at once.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What one server lets a client have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// A request's headers must arrive within this time, on a new connection or an idle
    /// keep-alive one (which is closed when its next request does not begin in time).
    pub header_timeout: Duration,
    /// A request is answered within this time, or with `408`.
    pub request_timeout: Duration,
    /// The most bytes of request line and headers; more is answered `431`.
    pub max_header_bytes: usize,
    /// The most open connections in all.
    pub max_connections: usize,
    /// The most open connections from one client address.
    pub max_connections_per_client: usize,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 32 * 1024,
            max_connections: 4096,
            max_connections_per_client: 128,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 38\r\n\
connection: close\r\n\
retry-after: 5\r\n\
x-content-type-options: nosniff\r\n\
content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n\
\r\n\
Too many connections; try again soon.\n";

/// Open connections per client address.
#[derive(Default)]
struct Clients(Mutex<HashMap<IpAddr, usize>>);

/// A client's place among the open connections, given back when the connection ends.
struct Seat {
    clients: Arc<Clients>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut map = self.clients.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Clients {
    fn seat(
        self: &Arc<Self>,
        ip: IpAddr,
        total: &Arc<Semaphore>,
        per_client: usize,
    ) -> Result<Seat, &'static str> {
        let permit = total
            .clone()
            .try_acquire_owned()
            .map_err(|_| "the server's connection limit")?;
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= per_client {
            return Err("the per-client connection limit");
        }
        *n += 1;
        Ok(Seat {
            clients: self.clone(),
            ip,
            _permit: permit,
        })
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops accepting,
/// lets requests in flight finish (for at most `limits.shutdown_grace`) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    state: Arc<crate::AppState>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        // The 408 above is made outside the site's own layers: it gets the headers here.
        .layer(axum::middleware::map_response(crate::headers::baseline));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        // The read buffer holds one request's head; bodies are streamed.
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let total = Arc::new(Semaphore::new(limits.max_connections));
    // Refusals are answered politely while few; in a flood, the rest are just closed.
    let refusals = Arc::new(Semaphore::new(256));
    let clients = Arc::new(Clients::default());
    let graceful = GracefulShutdown::new();
    let (mut refused, mut last_said) = (0u64, std::time::Instant::now() - Duration::from_secs(2));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let seat = match clients.seat(peer.ip(), &total, limits.max_connections_per_client) {
            Ok(seat) => seat,
            Err(limit) => {
                // In a flood, one line a second says how many were refused.
                refused += 1;
                if last_said.elapsed() >= Duration::from_secs(1) {
                    tracing::warn!(client = %peer.ip(), limit, refused, "refused connections");
                    refused = 0;
                    last_said = std::time::Instant::now();
                }
                match refusals.clone().try_acquire_owned() {
                    Ok(permit) => refuse(stream, permit),
                    Err(_) => drop(stream),
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // Kept pages are answered in front of the router; the rest go through it.
        let service =
            crate::cache::Cached::new(app.clone(), state.clone(), peer, limits.request_timeout);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(client = %peer, error = %e, "connection ended with an error");
            }
            drop(seat);
        });
    }
    drop(listener);
    tracing::info!("stopped accepting; letting requests in flight finish");
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?limits.shutdown_grace, "requests still in flight at the end of the grace period were cut");
    }
    Ok(())
}

/// Answers `503` and closes, reading (for a moment, a little) what the client already sent so
/// that the close does not reset the connection and lose the answer.
fn refuse(mut stream: TcpStream, permit: OwnedSemaphorePermit) {
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(BUSY).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            let mut drained = 0;
            while drained < 64 * 1024 {
                match stream.read(&mut sink).await? {
                    0 => break,
                    n => drained += n,
                }
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_says_its_length() {
        let text = std::str::from_utf8(super::BUSY).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.contains(&format!("content-length: {}\r\n", body.len())),
            "{head}"
        );
    }
}
