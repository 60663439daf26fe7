//! The reference of `bench/serve.sh`: the embedded DuckDB running the
//! benchmark's statements in this process, one connection per thread, no
//! HTTP. `query_rate HOME SECONDS THREADS TEMPLATE ROWS`; every `{id}` in
//! TEMPLATE becomes a random id in 1..=ROWS and every `{n}` a counter, as the
//! wrk script does. Prints `queries/s N`.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lake::Lake;
use lake::query::QueryEngine;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [home, seconds, threads, template, rows] = args.as_slice() else {
        anyhow::bail!("usage: query_rate HOME SECONDS THREADS TEMPLATE ROWS");
    };
    let home = PathBuf::from(home);
    let seconds: u64 = seconds.parse()?;
    let threads: u64 = threads.parse()?;
    let rows: u64 = rows.parse()?;
    let lake = Lake::open(&home)?;
    let engine = QueryEngine::open()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counts = std::thread::scope(|scope| -> anyhow::Result<Vec<u64>> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let conn = engine.connect()?;
                // Views are a connection's own: each thread makes them once
                // and holds their files for the run.
                let held = lake.register_datasets(&conn, template, None)?;
                Ok(scope.spawn(move || -> anyhow::Result<u64> {
                    let _held = held;
                    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        // xorshift: no dependency for a random id.
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let sql = template
                            .replace("{id}", &(state % rows + 1).to_string())
                            .replace("{n}", &done.to_string());
                        let mut seen = 0usize;
                        conn.run(&sql, &mut |_, batch| {
                            seen += batch.num_rows();
                            Ok(ControlFlow::Continue(()))
                        })?;
                        done += 1;
                    }
                    Ok(done)
                }))
            })
            .collect::<anyhow::Result<_>>()?;
        workers
            .into_iter()
            .map(|w| w.join().expect("worker panicked"))
            .collect()
    })?;
    let total: u64 = counts.iter().sum();
    println!("queries/s {:.0}", total as f64 / seconds as f64);
    Ok(())
}
