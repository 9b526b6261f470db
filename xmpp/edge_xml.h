/* The edge link's XML stream parser: expat with our own handlers and limits, turning the
 * bytes the edge server sends (in any chunking) into a stream header, complete stanzas as
 * small element trees, a stream end, or one stream error.
 *
 * Restricted XML (RFC 6120 §11.1): a DOCTYPE, entity declarations, comments and processing
 * instructions end the stream with `restricted-xml`; entities are never expanded (only the
 * five predefined ones and character references exist). Bounds: the bytes of one stanza (or
 * of the stream header) over max_stanza_bytes, element depth over SX_XEL_MAX_DEPTH, more than
 * SX_XEL_MAX_ATTRS attributes or namespace declarations on one element, or more than
 * SX_XEL_MAX_NODES elements in one stanza → `policy-violation`. Malformed XML →
 * `not-well-formed`; a root that is not <stream:stream> in the streams namespace with the
 * jabber:component:accept default namespace → `invalid-namespace`; an encoding other than
 * UTF-8 declared → `unsupported-encoding`; a second stream header → `unsupported-stanza-type`.
 * After an error the parser accepts no more input.
 *
 * Ownership: sx_xstream_new/sx_xstream_free. Elements handed to on_stanza are owned by the
 * parser and freed after the callback returns (copy what outlives it). The accessors return
 * borrowed pointers into the element. Needs only expat: no sockets, usable by the fuzzer. */
#ifndef SX_XMPP_EDGE_XML_H
#define SX_XMPP_EDGE_XML_H
#include <stddef.h>

#define SX_NS_STREAMS "http://etherx.jabber.org/streams"
#define SX_NS_COMPONENT "jabber:component:accept"
#define SX_NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"

#define SX_XEL_MAX_DEPTH 64    /* elements below the stream root */
#define SX_XEL_MAX_ATTRS 256   /* attributes, and namespace declarations, on one element */
#define SX_XEL_MAX_NODES 8192  /* elements in one stanza */

typedef struct sx_xel sx_xel;

/* Element name (local part), its namespace URI ("" when none). */
const char *sx_xel_name(const sx_xel *el);
const char *sx_xel_ns(const sx_xel *el);
/* Attribute value by name, or NULL. Unprefixed attributes by their plain name; xml:lang as
 * "xml:lang"; other namespaced attributes as "URI|name". */
const char *sx_xel_attr(const sx_xel *el, const char *name);
/* First child element with this name (any namespace when ns is NULL), or NULL. */
sx_xel *sx_xel_child(const sx_xel *el, const char *name, const char *ns);
/* Child elements in order: first, then next sibling. */
sx_xel *sx_xel_first(const sx_xel *el);
sx_xel *sx_xel_next(const sx_xel *el);
/* The element's own character data (not its children's), "" when none. */
const char *sx_xel_text(const sx_xel *el);

typedef struct sx_xstream_cbs {
  /* The server's stream header: its id attribute (NULL when absent) and from. */
  void (*on_header)(void *ud, const char *id, const char *from);
  /* A complete first-level child of the stream. */
  void (*on_stanza)(void *ud, const sx_xel *st);
  /* The server closed its stream (</stream:stream>). */
  void (*on_end)(void *ud);
} sx_xstream_cbs;

typedef struct sx_xstream sx_xstream;

sx_xstream *sx_xstream_new(size_t max_stanza_bytes, const sx_xstream_cbs *cbs, void *ud);
void sx_xstream_free(sx_xstream *x);

/* Parses len more bytes. Returns 0, or -1 once the stream is in error (also for every call
 * after that): sx_xstream_error() then names the stream error condition to send. Callbacks
 * run inside this call; they may not free the parser. */
int sx_xstream_feed(sx_xstream *x, const char *data, size_t len);
/* Bytes held back by sx_xstream_feed: while expat is inside one long unfinished token (a
 * start tag with many attributes), small additions are collected rather than re-parsed one
 * by one (expat 2.5 re-scans the whole token each time). The owner calls sx_xstream_flush
 * after a short while when sx_xstream_held() is not 0. Returns as sx_xstream_feed. */
int sx_xstream_flush(sx_xstream *x);
size_t sx_xstream_held(const sx_xstream *x);
/* The stream error condition (static text, e.g. "not-well-formed"), NULL while none. */
const char *sx_xstream_error(const sx_xstream *x);
/* A human-readable detail of the error for the log (static or parser-owned text). */
const char *sx_xstream_error_detail(const sx_xstream *x);

#endif
