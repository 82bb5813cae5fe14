//! The HTTP API, mounted at `/api/v1`. Each resource in its own file; this
//! module lists their routes.
