//! Arrow Flight SQL (`lake serve --flight-addr`): the protocol BI tools,
//! ADBC and JDBC drivers speak, over gRPC, beside the HTTP API and with its
//! rules: the same bearer token (or a Basic handshake whose password is the
//! token, answered with the bearer), the same read-only sandbox, permits,
//! query timeout and row and byte limits. Statements run as `/v1/sql`'s do
//! (`statements`); catalogs, schemas, tables and types are answered from
//! the lake (`metadata`). A snapshot to read is the call header `x-lake-at`.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetCrossReference,
    CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys, CommandGetPrimaryKeys,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandGetXdbcTypeInfo,
    CommandPreparedStatementQuery, CommandStatementQuery, DoPutPreparedStatementResult,
    ProstMessageExt, TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    Ticket,
};
use base64::Engine;
use futures::Stream;
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

use super::observe::{REQUEST_ID, id_or_new};
use super::secret::constant_time_eq;
use super::sql::query_error;
use super::{ApiError, AppState, ServeError};
use crate::lake::LakeError;
use crate::query::QueryError;

mod metadata;
mod statements;

use statements::Statement;

/// Base64 with or without its padding (Go's Flight client sends none).
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The call header that names the snapshot a statement reads (as `--at`).
const AT_HEADER: &str = "x-lake-at";

/// A server certificate and key, read before the server starts.
pub(crate) struct Tls(Identity);

impl Tls {
    pub(crate) fn read(cert: &Path, key: &Path) -> Result<Tls, ServeError> {
        let read = |path: &Path| {
            std::fs::read(path)
                .map_err(|e| ServeError::Flight(format!("reading {}: {e}", path.display())))
        };
        Ok(Tls(Identity::from_pem(read(cert)?, read(key)?)))
    }
}

/// Serves Flight SQL on `listener` until `shutdown`.
pub(crate) async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let service = FlightServiceServer::new(LakeFlight { state })
        .max_decoding_message_size(16 << 20)
        .max_encoding_message_size(64 << 20);
    let mut builder = tonic::transport::Server::builder();
    if let Some(Tls(identity)) = tls {
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(identity))
            .map_err(|e| ServeError::Flight(format!("TLS: {e}")))?;
    }
    builder
        .add_service(service)
        // Without TCP_NODELAY every small answer waits out the client's
        // delayed ACK (40 ms).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .map_err(|e| ServeError::Flight(e.to_string()))
}

/// The Flight SQL face of the server.
#[derive(Clone)]
pub(crate) struct LakeFlight {
    state: Arc<AppState>,
}

type DoGetStream = <LakeFlight as FlightService>::DoGetStream;

impl LakeFlight {
    /// Refuses a call without the server's token (when it has one).
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(token) = &self.state.opts.token else {
            return Ok(());
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(()),
            _ => Err(Status::unauthenticated("missing or wrong bearer token")),
        }
    }

    /// The call's `x-request-id`, or a new id.
    fn id<T>(request: &Request<T>) -> Arc<str> {
        id_or_new(
            request
                .metadata()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok()),
        )
    }

    /// The snapshot the call asks for (`x-lake-at`), if any.
    fn at<T>(request: &Request<T>) -> Result<Option<String>, Status> {
        match request.metadata().get(AT_HEADER) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(|s| Some(s.trim().to_owned()))
                .map_err(|_| Status::invalid_argument(format!("{AT_HEADER} is not text"))),
        }
    }
}

/// A FlightInfo whose one endpoint's ticket is `ticket`, with `schema`.
fn flight_info(
    ticket: impl ProstMessageExt,
    schema: &arrow::datatypes::Schema,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(ticket.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding a schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// The gRPC status of an error the HTTP API would answer with `err`.
fn status(err: ApiError) -> Status {
    let message = err.message;
    match (err.status.as_u16(), err.code) {
        (_, "busy") | (413 | 429, _) => Status::resource_exhausted(message),
        (400, _) => Status::invalid_argument(message),
        (401, _) => Status::unauthenticated(message),
        (404, _) => Status::not_found(message),
        (409, _) => Status::failed_precondition(message),
        (503, _) => Status::unavailable(message),
        (504, _) => Status::deadline_exceeded(message),
        _ => Status::internal(message),
    }
}

/// The gRPC status of a failed query: one stopped at the query timeout is
/// DEADLINE_EXCEEDED, the rest as the HTTP API answers them.
fn lake_status(err: LakeError, timeout: std::time::Duration) -> Status {
    let stopped = matches!(err, LakeError::Query(QueryError::Interrupted));
    let err = query_error(err, timeout);
    if stopped {
        Status::deadline_exceeded(err.message)
    } else {
        status(err)
    }
}

#[tonic::async_trait]
impl FlightSqlService for LakeFlight {
    type FlightService = LakeFlight;

    /// Basic authentication whose password is the server's token (any user
    /// name): the answer carries the bearer the other calls send.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let token = match &self.state.opts.token {
            None => String::new(),
            Some(token) => {
                let password = header
                    .strip_prefix("Basic ")
                    .and_then(|b| BASE64.decode(b.trim()).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|up| up.split_once(':').map(|(_, p)| p.to_owned()));
                let bearer = header.strip_prefix("Bearer ");
                let given = password.as_deref().or(bearer).unwrap_or_default();
                if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
                    return Err(Status::unauthenticated(
                        "wrong credentials: the password is the server's token",
                    ));
                }
                token.clone()
            }
        };
        let answer = HandshakeResponse {
            protocol_version: 0,
            payload: token.clone().into(),
        };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures::stream::iter([Ok(answer)])));
        if !token.is_empty() {
            let bearer = MetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| Status::internal("the token is not a header value"))?;
            response.metadata_mut().insert("authorization", bearer);
        }
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let statement = Statement::new(query.query, Self::at(&request)?);
        let schema = statements::schema(&self.state, &statement).await?;
        let ticket = TicketStatementQuery {
            statement_handle: statement.handle()?,
        };
        flight_info(ticket, &schema, request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        let statement = Statement::from_handle(&ticket.statement_handle)?;
        statements::run(&self.state, statement, Self::id(&request)).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.authorize(&request)?;
        let statement = Statement::new(query.query, Self::at(&request)?);
        statements::prepare(&self.state, statement).await
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.authorize(&request)?;
        let statement = Statement::from_handle(&query.prepared_statement_handle)?;
        statements::bind(statement, request.into_inner()).await
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let statement = Statement::from_handle(&query.prepared_statement_handle)?;
        let schema = statements::schema(&self.state, &statement).await?;
        flight_info(query, &schema, request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        let statement = Statement::from_handle(&query.prepared_statement_handle)?;
        statements::run(&self.state, statement, Self::id(&request)).await
    }

    /// The statement lives in its handle: nothing is kept to close.
    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        self.authorize(&request)
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.into_builder().schema();
        flight_info(query, &schema, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::catalogs(query)
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(query, &schema, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::schemas(query)
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(query, &schema, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::tables(&self.state, query, Self::at(&request)?).await
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.into_builder().schema();
        flight_info(query, &schema, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::table_types(query)
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.clone().into_builder(metadata::sql_info()).schema();
        flight_info(query, &schema, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::answer(query.into_builder(metadata::sql_info()).build())
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        let schema = query.into_builder(metadata::xdbc_types()).schema();
        flight_info(query, &schema, request.into_inner())
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::answer(query.into_builder(metadata::xdbc_types()).build())
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        flight_info(
            query,
            &metadata::primary_keys_schema(),
            request.into_inner(),
        )
    }

    /// Datasets have no primary keys.
    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::empty(metadata::primary_keys_schema())
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        flight_info(
            query,
            &metadata::foreign_keys_schema(),
            request.into_inner(),
        )
    }

    /// Datasets have no foreign keys.
    async fn do_get_exported_keys(
        &self,
        _query: CommandGetExportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::empty(metadata::foreign_keys_schema())
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        flight_info(
            query,
            &metadata::foreign_keys_schema(),
            request.into_inner(),
        )
    }

    async fn do_get_imported_keys(
        &self,
        _query: CommandGetImportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::empty(metadata::foreign_keys_schema())
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        flight_info(
            query,
            &metadata::foreign_keys_schema(),
            request.into_inner(),
        )
    }

    async fn do_get_cross_reference(
        &self,
        _query: CommandGetCrossReference,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        metadata::empty(metadata::foreign_keys_schema())
    }

    async fn do_get_fallback(
        &self,
        request: Request<Ticket>,
        message: Any,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        Err(Status::unimplemented(format!(
            "lake does not answer {}",
            message.type_url
        )))
    }
}
