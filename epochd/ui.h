// The self-serve web UI: pages and static files served from epochd itself.
//
// What: GET / and /topologies/{id} answer the single-page app
// (index.html); /ui/{file} its script, style sheet and icon (the routes are
// in routes.h). Files carry an
// ETag (answered 304 on If-None-Match), a Content-Security-Policy allowing
// only this origin, and nosniff/frame headers. The app talks to the REST
// API with fetch().
//
// Access: static files (/ui/...) hold no data and are open to anyone; the
// pages need READ_ONLY like any read, except in token mode (a browser sends
// no bearer token when it navigates: the app asks for the token instead).
// Threading: pure functions over immutable data; any thread.
#pragma once

#include "http.h"
#include "routes.h"

namespace epochd {

// The answer for a route whose endpoint is kUiPage or kUiAsset: the file,
// 304, or 404 for an unknown file under /ui/.
HttpResponse serve_ui(const HttpRequest& req, const Route& route);

}  // namespace epochd
