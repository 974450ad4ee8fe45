/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Varlink protocol pieces shared by the daemon and assignctl: the
 * interface-definition parser and validator (the .varlink files in proto/
 * are the single source of truth for the wire API), NUL-delimited message
 * framing with a hard size cap, and a small blocking client.
 *
 * JSON values are json-c objects.  Nothing here logs above debug.
 */
#ifndef ASSIGND_VARLINK_H
#define ASSIGND_VARLINK_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/*
 * Largest request (without the NUL) the daemon accepts.  Replies may be
 * larger (ListDevices on a big SoC's device tree is), up to VL_MAX_REPLY,
 * which is what the client accepts.
 */
#define VL_MAX_MESSAGE (64u * 1024)
#define VL_MAX_REPLY (16u * 1024 * 1024)

/* Standard org.varlink.service error names. */
#define VL_ERR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VL_ERR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VL_ERR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define VL_ERR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VL_ERR_PERMISSION_DENIED "org.varlink.service.PermissionDenied"
#define VL_ERR_EXPECTED_MORE "org.varlink.service.ExpectedMore"

/* Drop a json-c reference at scope exit (NULL-safe). */
static inline void vl_json_unrefp(struct json_object **p)
{
        if (*p)
                json_object_put(*p);
}

/* ---- interface definitions ---------------------------------------------- */

struct vl_interface;
struct vl_method;

/* Parse an interface definition; on error -EINVAL and *err says line and why. */
int vl_interface_parse(const char *text, struct vl_interface **ret, char **err);
void vl_interface_free(struct vl_interface *iface);

const char *vl_interface_name(const struct vl_interface *iface);
/* The definition text exactly as parsed (for GetInterfaceDescription). */
const char *vl_interface_text(const struct vl_interface *iface);

/* Method by its short name ("ListDevices"), or NULL. */
const struct vl_method *vl_interface_method(const struct vl_interface *iface, const char *name);
const char *vl_method_name(const struct vl_method *m);
/* Number of methods and access by index (for building dispatch checks). */
size_t vl_interface_n_methods(const struct vl_interface *iface);
const struct vl_method *vl_interface_method_at(const struct vl_interface *iface, size_t i);
/* Whether the interface declares an error of this short name. */
bool vl_interface_has_error(const struct vl_interface *iface, const char *name);

/*
 * Validate a call's parameters (NULL means {}) against the method's input
 * struct, or a reply's against its output struct: every mandatory field
 * present, no unknown field, every value of the declared type (nullable
 * "?" fields may be null or absent).  A call's strings must also hold no
 * NUL and no control character (U+0000..U+001F, U+007F..U+009F) and be
 * valid UTF-8; a reply's may hold any (the description of an interface,
 * a generated file, have newlines).  On mismatch returns -EINVAL and sets
 * *bad_param to the offending parameter (dotted for nested fields).
 */
int vl_validate_input(const struct vl_interface *iface, const struct vl_method *m,
                      struct json_object *params, char **bad_param);
int vl_validate_output(const struct vl_interface *iface, const struct vl_method *m,
                       struct json_object *params, char **bad_param);
/* Same for the parameters of a declared error ("DeviceBusy"). */
int vl_validate_error(const struct vl_interface *iface, const char *error_name,
                      struct json_object *params, char **bad_param);

/* ---- validated text --------------------------------------------------- */

/*
 * The JSON text of a value validated once against a type of an interface,
 * kept to be sent again as it is (the daemon's rendered devices and
 * hazards, until what they show changes): a node made of it serialises
 * as the text, and the validator takes such a node where that type is
 * expected without walking it again, and refuses it anywhere else.
 * Immutable and reference-counted.
 */
struct vl_text;

/*
 * Validate v against type, spelled as in the interface ("Device",
 * "[]Hazard"), then keep its text.  -EINVAL with *bad as the validators
 * set it; -ENOENT for a type the interface does not have.
 */
int vl_text_new(const struct vl_interface *iface, const char *type, struct json_object *v,
                struct vl_text **ret, char **bad);
struct vl_text *vl_text_ref(struct vl_text *t);
void vl_text_unref(struct vl_text *t);
/* The text (NUL-terminated) and its length. */
const char *vl_text_json(const struct vl_text *t, size_t *len);
/* A node for a reply whose serialisation is t's text; it holds a reference to t. */
struct json_object *vl_text_node(struct vl_text *t);
/* The text behind a node vl_text_node() made (and its length), or NULL for any other node. */
const char *vl_text_of_node(struct json_object *v, size_t *len);

/*
 * The .varlink files of proto/, embedded at build time by gen-embed.py:
 * interface name and definition text.  Which files exist is decided when
 * the build is configured (io.assignd.Simulator only if its file exists).
 */
struct vl_embedded {
        const char *name;
        const char *text;
};
extern const struct vl_embedded vl_embedded_interfaces[];
extern const size_t vl_n_embedded_interfaces;
/* The embedded text of an interface, or NULL. */
const char *vl_embedded_find(const char *name);

/* ---- framing ------------------------------------------------------------ */

/*
 * Incoming byte buffer; messages are NUL-terminated JSON objects.  The
 * unconsumed bytes are data[off..len); len is 0 whenever nothing is
 * buffered.  scan marks how far the bytes are known to hold no NUL, so a
 * peer trickling one byte at a time costs linear, not quadratic, work.
 * max is the message size cap (0 means VL_MAX_MESSAGE).  Zero-initialising
 * the struct is equivalent to vl_rbuf_init().
 */
struct vl_rbuf {
        char *data;
        size_t len;
        size_t cap;
        size_t off;
        size_t scan;
        size_t max;
};

void vl_rbuf_init(struct vl_rbuf *b);
/* A buffer whose messages may be up to max bytes (the client uses VL_MAX_REPLY). */
void vl_rbuf_init_max(struct vl_rbuf *b, size_t max);
void vl_rbuf_clear(struct vl_rbuf *b);
/*
 * Read what is available from fd (non-blocking or blocking).  Returns the
 * number of bytes read, 0 on EOF, -EAGAIN when nothing is there, -EMSGSIZE
 * once more than the cap (VL_MAX_MESSAGE) is buffered without a NUL (checked
 * before growing), -ENOBUFS when the buffer is full of complete messages
 * the caller has not taken out with vl_rbuf_next() yet, other -errno on
 * failure.  The buffer never grows beyond the cap + 1 bytes.
 */
int vl_rbuf_read(struct vl_rbuf *b, int fd);
/*
 * Put bytes read elsewhere into an empty buffer (a server reads into one
 * buffer of its own and keeps only what it cannot take at once: an idle
 * connection then holds no buffer, and a call costs no allocation of one).
 * -EMSGSIZE when the bytes after the last NUL are more than the cap,
 * -EBUSY when the buffer is not empty, -ENOMEM.
 */
int vl_rbuf_put(struct vl_rbuf *b, const char *data, size_t len);
/*
 * Take the next complete message out of the buffer: 1 and *msg (malloc'd,
 * NUL-terminated, caller frees) when there is one, 0 when not yet.
 */
int vl_rbuf_next(struct vl_rbuf *b, char **msg);

/*
 * Parse one message as exactly one JSON document (strict JSON, nothing
 * but whitespace after it).  A message that is not a JSON text by RFC
 * 8259 is refused (-EBADMSG, *err says why and where, never quoting the
 * bytes): one that is not UTF-8 (RFC 3629: no overlong forms, surrogates
 * or code points past U+10FFFF), one with a raw control character in a
 * string, one with an unpaired surrogate escape.  json-c alone lets all
 * three through.
 */
int vl_parse_json(const char *msg, struct json_object **ret, char **err);

/* A parsed request. */
struct vl_request {
        char *method;           /* fully qualified: "io.assignd.Broker.ListDevices" */
        struct json_object *parameters; /* owned; never NULL (empty object if absent or null) */
        bool oneway;
        bool more;
        bool upgrade;
};

/*
 * Parse one message into a request.  Rejects what vl_parse_json does.
 * Absent or null "parameters" are an empty object, as other Varlink
 * implementations send them.  Rejects non-objects, a missing or
 * non-string "method", a method without an interface part, "parameters"
 * that are neither an object nor null, non-boolean flags and unknown
 * top-level keys (-EBADMSG, *err says which).
 */
int vl_request_parse(const char *msg, struct vl_request *req, char **err);
/*
 * The same with a tokener of the caller's, reset and used again for each
 * message (the server keeps one: making one per request was a tenth of a
 * small call).
 */
int vl_request_parse_with(struct json_tokener *tok, const char *msg, struct vl_request *req,
                          char **err);
void vl_request_clear(struct vl_request *req);

/* Split "a.b.C.Method" into interface "a.b.C" (malloc'd) and method "Method". */
int vl_split_method(const char *qualified, char **iface, const char **method);

/*
 * Serialise a reply / error for sending (malloc'd, without the NUL).  The
 * text is always valid UTF-8: a string or key that is not (bytes from a
 * host device tree or an old database) goes out with each bad byte
 * replaced by U+FFFD, so no stored value can make a reply unreadable.
 */
char *vl_reply_serialize(struct json_object *params, bool continues);
/* The same, with its length in *len. */
char *vl_reply_serialize_len(struct json_object *params, bool continues, size_t *len);
char *vl_error_serialize(const char *error, struct json_object *params);

/* ---- client ------------------------------------------------------------- */

struct vl_client;

/* Connect to a UNIX stream socket path. */
int vl_client_connect(const char *path, struct vl_client **ret);
void vl_client_free(struct vl_client *c);
int vl_client_fd(const struct vl_client *c);

#define VL_CALL_MORE (1u << 0)
#define VL_CALL_ONEWAY (1u << 1)

/*
 * Send a call (params may be NULL).  Takes no ownership of params.
 * -EILSEQ when a string in it is not valid UTF-8: the daemon would refuse
 * the whole message, so it is not sent.
 */
int vl_client_send(struct vl_client *c, const char *method, struct json_object *params,
                   unsigned flags);

/*
 * Read the next reply.  Returns 0 with *params (owned, never NULL) and
 * *error (owned, NULL on success; on error *params are the error's
 * parameters) and *continues (whether more replies follow).
 * -ECONNRESET when the server closed, -EBADMSG on a malformed reply.
 */
int vl_client_recv(struct vl_client *c, struct json_object **params, char **error,
                   bool *continues);

/* send + recv for the common single-reply case. */
int vl_client_call(struct vl_client *c, const char *method, struct json_object *params,
                   struct json_object **reply, char **error);

#endif
