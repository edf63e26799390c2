//! Denial reasons, and how a denial is sent to the client.
//!
//! Every denial is one [`AuthError`] variant. Its responder writes the status,
//! an RFC 6750 `WWW-Authenticate` challenge and a JSON body in the shape of
//! Rocket's default JSON catcher, so clients see one format for every error.
//! Descriptions are fixed strings: a denial never echoes the token, the secret,
//! the `Authorization` header or any SQL.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde::Serialize;

/// The reason a request was denied or a token could not be issued.
///
/// Each variant maps to exactly one HTTP status (see [`AuthError::status`]).
/// The gate, the guards and [`TokenIssuer`](crate::TokenIssuer) all return this
/// type, and it is a Rocket [`Responder`], so a handler can use `?` on it.
///
/// ```
/// use rocket_jwt_router::AuthError;
/// use rocket::http::Status;
///
/// assert_eq!(AuthError::MissingToken.status(), Status::Unauthorized);
/// assert_eq!(AuthError::DatabaseUnavailable.status(), Status::ServiceUnavailable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request has no `Authorization` header.
    #[error("the request has no bearer token")]
    MissingToken,

    /// The `Authorization` header uses a scheme other than `Bearer`.
    #[error("the Authorization header does not use the Bearer scheme")]
    UnsupportedScheme,

    /// The `Authorization` header is not `Bearer <token>` with one space and a
    /// token of RFC 6750 characters, or the request has more than one.
    #[error("the Authorization header is malformed")]
    MalformedHeader,

    /// The token is longer than the configured maximum.
    #[error("the bearer token is too long")]
    TokenTooLong,

    /// The token failed decoding or signature verification, uses another
    /// algorithm, or lacks a required claim.
    #[error("the bearer token is invalid")]
    InvalidToken,

    /// The token's `exp` has passed.
    #[error("the bearer token has expired")]
    ExpiredToken,

    /// The token's `nbf` or `iat` lies in the future.
    #[error("the bearer token is not valid yet")]
    TokenNotYetValid,

    /// The token was issued for a different entity kind than the guard loads.
    #[error("the bearer token was issued for a different kind of entity")]
    WrongEntityKind,

    /// The token's `sub` is not the canonical text of an id of the entity's type.
    #[error("the bearer token's subject is not a valid entity id")]
    InvalidSubject,

    /// The token is valid but its entity no longer exists.
    #[error("the entity of the bearer token no longer exists")]
    EntityNotFound,

    /// The database could not be reached in time.
    #[error("the database is unavailable")]
    DatabaseUnavailable,

    /// The database returned an error other than a connection failure, such
    /// as a missing table or a row that does not decode into the entity type.
    /// The details go to the server log only.
    #[error("the entity could not be loaded")]
    EntityLoadFailed,

    /// The token could not be signed.
    #[error("the token could not be issued")]
    IssueFailed,
}

/// The RFC 6750 error code for the `WWW-Authenticate` challenge.
enum Challenge {
    /// No credentials were attempted, so the challenge carries no error code.
    Plain,
    InvalidRequest,
    InvalidToken,
}

impl AuthError {
    /// Returns the HTTP status that this error is sent with.
    ///
    /// ```
    /// use rocket_jwt_router::AuthError;
    ///
    /// assert_eq!(AuthError::ExpiredToken.status().code, 401);
    /// ```
    pub fn status(&self) -> Status {
        match self {
            AuthError::DatabaseUnavailable => Status::ServiceUnavailable,
            AuthError::EntityLoadFailed | AuthError::IssueFailed => Status::InternalServerError,
            _ => Status::Unauthorized,
        }
    }

    /// Returns the fixed, client-facing description of this error.
    ///
    /// ```
    /// use rocket_jwt_router::AuthError;
    ///
    /// assert_eq!(AuthError::MissingToken.description(), "The request requires a bearer token.");
    /// ```
    pub fn description(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "The request requires a bearer token.",
            AuthError::UnsupportedScheme => "The Authorization header must use the Bearer scheme.",
            AuthError::MalformedHeader => {
                "The request must carry exactly one Authorization header of the form `Bearer <token>`."
            }
            AuthError::TokenTooLong => "The bearer token is longer than the server accepts.",
            AuthError::InvalidToken => "The bearer token is invalid.",
            AuthError::ExpiredToken => "The bearer token has expired.",
            AuthError::TokenNotYetValid => "The bearer token is not valid yet.",
            AuthError::WrongEntityKind => "The bearer token is not valid for this resource.",
            AuthError::InvalidSubject => "The bearer token's subject is invalid.",
            AuthError::EntityNotFound => "The bearer token's subject no longer exists.",
            AuthError::DatabaseUnavailable => "The service is temporarily unavailable.",
            AuthError::EntityLoadFailed => "The server failed to load the authenticated entity.",
            AuthError::IssueFailed => "The server failed to issue a token.",
        }
    }

    fn challenge(&self) -> Option<Challenge> {
        match self {
            AuthError::MissingToken | AuthError::UnsupportedScheme => Some(Challenge::Plain),
            AuthError::MalformedHeader => Some(Challenge::InvalidRequest),
            _ if self.status() == Status::Unauthorized => Some(Challenge::InvalidToken),
            _ => None,
        }
    }

    /// Returns the `WWW-Authenticate` value for this error, or `None` when the
    /// status is not 401.
    ///
    /// ```
    /// use rocket_jwt_router::AuthError;
    ///
    /// assert_eq!(AuthError::MissingToken.www_authenticate().as_deref(), Some("Bearer"));
    /// assert_eq!(
    ///     AuthError::ExpiredToken.www_authenticate().as_deref(),
    ///     Some(r#"Bearer error="invalid_token", error_description="The bearer token has expired.""#),
    /// );
    /// ```
    pub fn www_authenticate(&self) -> Option<String> {
        let code = match self.challenge()? {
            Challenge::Plain => return Some("Bearer".to_owned()),
            Challenge::InvalidRequest => "invalid_request",
            Challenge::InvalidToken => "invalid_token",
        };

        // Descriptions are fixed ASCII without quotes or backslashes, so they
        // need no escaping inside the quoted-string.
        Some(format!(r#"Bearer error="{code}", error_description="{}""#, self.description()))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: u16,
    reason: &'a str,
    description: &'a str,
}

/// Builds a response with `status`, the JSON body that Rocket's default JSON
/// catcher would send, and an optional `WWW-Authenticate` challenge.
pub(crate) fn json_error_response(status: Status, description: &str, challenge: Option<String>) -> Response<'static> {
    let body = ErrorBody {
        error: ErrorDetail { code: status.code, reason: status.reason_lossy(), description },
    };
    let body = serde_json::to_string(&body).expect("serializing a struct of strings and an integer cannot fail");

    let mut response = Response::build();
    response.status(status).header(ContentType::JSON).sized_body(body.len(), Cursor::new(body));
    if let Some(challenge) = challenge {
        response.header(Header::new("WWW-Authenticate", challenge));
    }

    response.finalize()
}

impl<'r> Responder<'r, 'static> for AuthError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(json_error_response(self.status(), self.description(), self.www_authenticate()))
    }
}
