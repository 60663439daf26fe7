//! The MCP server, driven by a real client from outside the project: the
//! official MCP Python SDK (`tests/mcp/client.py`, in the venv `.ci/run`
//! makes), over `lake mcp`'s standard input and output and over `/mcp` of
//! `lake serve`.

use serde_json::{Value, json};

use crate::TestContext;
use crate::serve::Server;

/// Rows to append to `examples/people.csv`'s dataset.
const MORE_PEOPLE: &str =
    "id,name,email,age,joined,score,active\n9,Zed,zed@example.com,40,2024-01-01,50.5,true\n";

/// Runs the SDK client with `cfg`; what it saw.
pub(crate) fn client(cfg: Value) -> Value {
    crate::ducklake::python_json("tests/mcp/client.py", &cfg)
}

/// The environment `lake mcp` needs to open the context's home.
pub(crate) fn home_env(ctx: &TestContext) -> Value {
    let mut env = serde_json::Map::new();
    env.insert("LAKE_HOME".into(), json!(ctx.home.path()));
    for (k, v) in &ctx.env {
        env.insert(k.clone(), json!(v));
    }
    Value::Object(env)
}

fn tool_names(report: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names
}

/// The `i`th call's result, asserted to be a success.
pub(crate) fn ok_call(report: &Value, i: usize) -> &Value {
    let call = &report["calls"][i];
    assert_eq!(
        call["result"]["isError"], false,
        "call {i} failed: {call:#}"
    );
    &call["result"]
}

/// The `i`th call's tool error message.
pub(crate) fn failed_call(report: &Value, i: usize) -> String {
    let call = &report["calls"][i];
    assert_eq!(
        call["result"]["isError"], true,
        "call {i} did not fail: {call:#}"
    );
    call["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_agent_over_stdio_lists_describes_queries_and_hears_of_changes() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap(), "--name", "people"])
        .ok();
    let more = ctx.write("more.csv", MORE_PEOPLE);
    let cli_error = ctx
        .lake(&["sql", "SELECT * FROM nowhere"])
        .fails(1)
        .trim_start_matches("error: ")
        .trim()
        .to_owned();
    let report = client(json!({
        "transport": "stdio",
        "command": [env!("CARGO_BIN_EXE_lake"), "mcp"],
        "env": home_env(&ctx),
        "mode": "legacy",
        "calls": [
            ["list_datasets", {}],
            ["describe_dataset", {"name": "people"}],
            ["query", {"sql": "SELECT count(*) AS n FROM people"}],
            ["dataset_log", {"name": "people"}],
            ["query", {"sql": "SELECT * FROM nowhere"}],
            ["query", {"sql": "SELECT * FROM read_csv('/etc/passwd')"}],
            ["query", {"sql": "CREATE TABLE t AS SELECT 1"}],
            ["describe_dataset", {"name": "nothing"}],
            ["query", {"sql": "SELECT * FROM range(1000)", "max_rows": 7}],
            ["ingest", {"name": "x", "data": "a\n1\n"}],
        ],
        "resource": "lake://datasets/people",
        "change": [env!("CARGO_BIN_EXE_lake"), "--home", ctx.home.path(), "ingest",
                   more, "--name", "people", "--append"],
    }));
    assert_eq!(report["server"]["name"], "lake");
    // Read-only by default: no ingest tool.
    assert_eq!(
        tool_names(&report),
        [
            "dataset_log",
            "describe_dataset",
            "list_datasets",
            "query",
            "search"
        ]
    );
    for tool in report["tools"].as_array().unwrap() {
        assert!(tool["description"].as_str().unwrap().len() > 40, "{tool:#}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool:#}");
    }
    let query_tool = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "query")
        .unwrap();
    assert_eq!(query_tool["inputSchema"]["required"], json!(["sql"]));

    let listed = ok_call(&report, 0);
    assert_eq!(listed["structuredContent"]["datasets"][0]["name"], "people");
    assert_eq!(listed["structuredContent"]["datasets"][0]["rows"], 6);
    assert!(
        listed["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("people: 6 rows")
    );

    let described = &ok_call(&report, 1)["structuredContent"];
    let columns: Vec<&str> = described["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["id", "name", "email", "age", "joined", "score", "active"]
    );
    assert_eq!(described["rows"], 6);
    assert_eq!(described["versions"].as_array().unwrap().len(), 1);
    assert_eq!(described["sample"]["row_count"], 5);

    let counted = ok_call(&report, 2);
    assert_eq!(counted["structuredContent"]["rows"], json!([[6]]));
    assert!(
        counted["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains('6')
    );

    let log = &ok_call(&report, 3)["structuredContent"]["snapshots"];
    assert_eq!(log[0]["change"], "created");
    assert_eq!(log[0]["dataset"], "people");

    // A failing query is a tool error with the CLI's message (less the
    // line DuckDB quotes).
    let message = failed_call(&report, 4);
    assert!(message.contains("nowhere"), "{message}");
    assert!(
        cli_error.starts_with(message.trim()),
        "{message} vs {cli_error}"
    );
    // The sandbox and read-only rule of /v1/sql hold.
    assert!(failed_call(&report, 5).contains("disabled"));
    assert!(!failed_call(&report, 6).is_empty());
    assert!(failed_call(&report, 7).contains("nothing"));
    let capped = ok_call(&report, 8);
    assert_eq!(capped["structuredContent"]["row_count"], 7);
    assert_eq!(capped["structuredContent"]["truncated"], true);
    // Writes were not allowed: there is no such tool.
    assert!(
        report["calls"][9]["protocol_error"]
            .as_str()
            .is_some_and(|e| e.contains("not found")),
        "{:#}",
        report["calls"][9]
    );

    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0]["uri"], "lake://datasets/people");
    let read = &report["read"]["contents"][0];
    assert_eq!(read["mimeType"], "application/json");
    let facts: Value = serde_json::from_str(read["text"].as_str().unwrap()).unwrap();
    assert_eq!(facts["rows"], 6);

    // The ingest by another process reached the subscriber.
    let updates: Vec<&Value> = report["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["method"] == "notifications/resources/updated")
        .collect();
    assert_eq!(updates.len(), 1, "{:#}", report["notifications"]);
    assert_eq!(updates[0]["params"]["uri"], "lake://datasets/people");
}

#[test]
fn mcp_over_http_sits_behind_the_token_and_writes_only_when_allowed() {
    let ctx = TestContext::new();
    ctx.lake(&["ingest", ctx.people().to_str().unwrap(), "--name", "people"])
        .ok();
    let server = Server::start(&ctx, &["--token", "s3cret", "--mcp-allow-writes"]);
    // No token, no MCP.
    let anonymous = server
        .agent
        .post(format!("{}/mcp", server.base))
        .header("Content-Type", "application/json")
        .send(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.as_slice())
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let more = ctx.write("more.csv", MORE_PEOPLE);
    let copied = ctx.work.path().join("out.csv");
    let report = client(json!({
        "transport": "http",
        "url": format!("{}/mcp", server.base),
        "token": "s3cret",
        "mode": "auto",
        "calls": [
            ["ingest", {"name": "notes", "data": "{\"k\": 1, \"v\": \"a\"}\n{\"k\": 2, \"v\": \"b\"}\n"}],
            ["query", {"sql": "SELECT count(*) AS n, max(k) AS m FROM notes"}],
            ["ingest", {"name": "notes", "data": "k,v\n3,c\n", "mode": "sideways"}],
            ["query", {"sql": format!("COPY people TO '{}'", copied.display())}],
        ],
        "resource": "lake://datasets/people",
        "change": [env!("CARGO_BIN_EXE_lake"), "--home", ctx.home.path(), "ingest",
                   more, "--name", "people", "--append"],
    }));
    assert_eq!(report["protocol"], "2026-07-28");
    assert_eq!(
        tool_names(&report),
        [
            "dataset_log",
            "describe_dataset",
            "ingest",
            "list_datasets",
            "query",
            "search"
        ]
    );
    let ingested = &ok_call(&report, 0)["structuredContent"];
    assert_eq!(ingested["status"], "created");
    assert_eq!(ingested["rows"], 2);
    assert_eq!(
        ok_call(&report, 1)["structuredContent"]["rows"],
        json!([[2, 2]])
    );
    assert!(failed_call(&report, 2).contains("sideways"));
    assert!(!failed_call(&report, 3).is_empty());
    assert!(!copied.exists(), "the sandbox let a query write a file");
    // The CLI sees what the agent wrote.
    assert_eq!(ctx.sql("SELECT count(*) AS n FROM notes").trim(), "n\n2");
    // Subscribed with `subscriptions/listen`: the other process's ingest
    // came through.
    let heard = report["notifications"].as_array().unwrap().iter().any(|n| {
        n["method"] == "notifications/resources/updated"
            && n["params"]["uri"] == "lake://datasets/people"
    });
    assert!(heard, "{:#}", report["notifications"]);
    assert_eq!(report["sdk_warnings"], json!([]));
    // A session of the handshake protocols ends with a DELETE, answered as
    // the SDK expects (it warned "Session termination failed: 202").
    let legacy = client(json!({
        "transport": "http",
        "url": format!("{}/mcp", server.base),
        "token": "s3cret",
        "mode": "legacy",
        "calls": [["list_datasets", {}]],
    }));
    assert!(
        ok_call(&legacy, 0)["structuredContent"].is_object(),
        "{legacy:#}"
    );
    assert_eq!(legacy["sdk_warnings"], json!([]), "{legacy:#}");
}
