/*
 * registry.c - an in-memory registry: the keys and values a host puts under
 * a driver's RegistryPath (wskhost's "-- Name=Value" parameters), read with
 * ZwOpenKey / ZwQueryValueKey and RtlQueryRegistryValues as on Windows.
 *
 * The tree itself is host state, kept outside the pool accounting (it is
 * not the driver's memory); key handles are runtime objects, so a driver
 * that forgets ZwClose shows up in the leak report.
 */
#include "ke_internal.h"
#include "verifier.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openwsk_runtime.h>

#define REG_TAG TAG_FROM_CHARS('R', 'e', 'g', ' ')

typedef struct reg_value {
    struct reg_value *next;
    WCHAR *name;
    USHORT name_bytes;
    ULONG type;
    UCHAR *data;
    ULONG size;
} reg_value;

typedef struct reg_key {
    struct reg_key *next;     /* sibling */
    struct reg_key *children;
    WCHAR *name;
    USHORT name_bytes;
    reg_value *values;
} reg_key;

/* A key handle's object body. */
typedef struct reg_handle {
    reg_key *key;
} reg_handle;

static struct _OBJECT_TYPE reg_key_type = {"Key"};
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_key reg_root; /* "\" */

/* ---- names ---- */

static WCHAR fold(WCHAR c)
{
    return c >= L'a' && c <= L'z' ? (WCHAR)(c - (L'a' - L'A')) : c;
}

static BOOLEAN same_name(const WCHAR *a, USHORT a_bytes, const WCHAR *b, USHORT b_bytes)
{
    if (a_bytes != b_bytes)
        return FALSE;
    for (USHORT i = 0; i < a_bytes / sizeof(WCHAR); i++)
        if (fold(a[i]) != fold(b[i]))
            return FALSE;
    return TRUE;
}

static SIZE_T wide_length(const WCHAR *s)
{
    SIZE_T n = 0;
    while (s[n] != 0)
        n++;
    return n;
}

static WCHAR *copy_name(const WCHAR *s, USHORT bytes)
{
    WCHAR *c = malloc(bytes + sizeof(WCHAR));
    if (c != NULL) {
        memcpy(c, s, bytes);
        c[bytes / sizeof(WCHAR)] = 0;
    }
    return c;
}

/* ---- the tree (reg_lock held) ---- */

static reg_key *child_locked(reg_key *k, const WCHAR *name, USHORT bytes, BOOLEAN create, BOOLEAN *created)
{
    for (reg_key *c = k->children; c != NULL; c = c->next)
        if (same_name(c->name, c->name_bytes, name, bytes))
            return c;
    if (!create)
        return NULL;
    reg_key *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->name = copy_name(name, bytes)) == NULL) {
        free(c);
        return NULL;
    }
    c->name_bytes = bytes;
    c->next = k->children;
    k->children = c;
    if (created != NULL)
        *created = TRUE;
    return c;
}

/* Walks a backslash-separated path from `from`; empty components are
 * skipped.  NULL when a component is missing (and create is FALSE) or on
 * allocation failure. */
static reg_key *walk_locked(reg_key *from, const WCHAR *path, USHORT bytes, BOOLEAN create, BOOLEAN *created)
{
    reg_key *k = from;
    USHORT n = bytes / sizeof(WCHAR), at = 0;
    while (k != NULL && at < n) {
        while (at < n && path[at] == L'\\')
            at++;
        USHORT start = at;
        while (at < n && path[at] != L'\\')
            at++;
        if (at > start)
            k = child_locked(k, path + start, (USHORT)((at - start) * sizeof(WCHAR)), create, created);
    }
    return k;
}

static reg_value *find_value_locked(reg_key *k, const WCHAR *name, USHORT bytes)
{
    for (reg_value *v = k->values; v != NULL; v = v->next)
        if (same_name(v->name, v->name_bytes, name, bytes))
            return v;
    return NULL;
}

static NTSTATUS set_value_locked(reg_key *k, const WCHAR *name, USHORT bytes, ULONG type, const void *data,
                                 ULONG size)
{
    UCHAR *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (size > 0)
        memcpy(copy, data, size);
    reg_value *v = find_value_locked(k, name, bytes);
    if (v == NULL) {
        v = calloc(1, sizeof(*v));
        if (v == NULL || (v->name = copy_name(name, bytes)) == NULL) {
            free(v);
            free(copy);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        v->name_bytes = bytes;
        v->next = k->values;
        k->values = v;
    }
    free(v->data);
    v->type = type;
    v->data = copy;
    v->size = size;
    return STATUS_SUCCESS;
}

static void delete_value_locked(reg_key *k, reg_value *victim)
{
    for (reg_value **p = &k->values; *p != NULL; p = &(*p)->next) {
        if (*p == victim) {
            *p = victim->next;
            free(victim->name);
            free(victim->data);
            free(victim);
            return;
        }
    }
}

static void free_key(reg_key *k)
{
    while (k->children != NULL) {
        reg_key *c = k->children;
        k->children = c->next;
        free_key(c);
        free(c->name);
        free(c);
    }
    while (k->values != NULL)
        delete_value_locked(k, k->values);
}

/* The roots of RtlQueryRegistryValues' RelativeTo values (index: the
 * RTL_REGISTRY_ value; ABSOLUTE has none).  They are keys every Windows
 * system has, so they exist here from the start too: ZwCreateKey of a key
 * under them finds its parent. */
static const char *const rtl_roots[RTL_REGISTRY_MAXIMUM] = {
    "",
    "\\Registry\\Machine\\System\\CurrentControlSet\\Services",
    "\\Registry\\Machine\\System\\CurrentControlSet\\Control",
    "\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion",
    "\\Registry\\Machine\\Hardware\\DeviceMap",
    "\\Registry\\User\\.Default",
};

/* walk_locked from the root for an ASCII path. */
static reg_key *walk_ascii_locked(const char *path, BOOLEAN create)
{
    WCHAR w[96];
    USHORT n = 0;
    for (const char *c = path; *c != 0 && n < 96; c++)
        w[n++] = (WCHAR)*c;
    return walk_locked(&reg_root, w, (USHORT)(n * sizeof(WCHAR)), create, NULL);
}

/* Made on first use, and again after a reset. */
static BOOLEAN reg_skeleton_made;

static void skeleton_locked(void)
{
    if (reg_skeleton_made)
        return;
    reg_skeleton_made = TRUE;
    for (size_t i = 1; i < RTL_REGISTRY_MAXIMUM; i++)
        walk_ascii_locked(rtl_roots[i], TRUE);
}

/* ---- handles ---- */

static NTSTATUS key_from_handle(HANDLE h, reg_handle **out)
{
    PVOID body;
    NTSTATUS st = ObReferenceObjectByHandle(h, 0, &reg_key_type, KernelMode, &body, NULL);
    if (!NT_SUCCESS(st))
        return st == STATUS_OBJECT_TYPE_MISMATCH ? STATUS_OBJECT_TYPE_MISMATCH : STATUS_INVALID_HANDLE;
    *out = body;
    return STATUS_SUCCESS;
}

static NTSTATUS handle_for(reg_key *k, PHANDLE out)
{
    reg_handle *h = openwsk_object_create(sizeof(*h), &reg_key_type, NULL);
    if (h == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    h->key = k;
    NTSTATUS st = openwsk_handle_create(h, out);
    ObfDereferenceObject(h); /* the handle holds the object now (or nobody does) */
    return st;
}

/* Opens or creates the key ObjectAttributes names. */
static NTSTATUS open_key(PHANDLE KeyHandle, POBJECT_ATTRIBUTES oa, BOOLEAN create, PULONG Disposition)
{
    if (KeyHandle == NULL || oa == NULL || oa->Length != sizeof(OBJECT_ATTRIBUTES))
        return STATUS_INVALID_PARAMETER;
    const WCHAR *path = NULL;
    USHORT bytes = 0;
    if (oa->ObjectName != NULL) {
        if ((oa->ObjectName->Length & 1) != 0 || (oa->ObjectName->Length > 0 && oa->ObjectName->Buffer == NULL))
            return STATUS_OBJECT_NAME_INVALID;
        path = oa->ObjectName->Buffer;
        bytes = oa->ObjectName->Length;
    }
    reg_handle *root = NULL;
    if (oa->RootDirectory != NULL) {
        NTSTATUS st = key_from_handle(oa->RootDirectory, &root);
        if (!NT_SUCCESS(st))
            return st;
        if (bytes > 0 && path[0] == L'\\') {
            ObfDereferenceObject(root);
            return STATUS_OBJECT_PATH_SYNTAX_BAD; /* relative names only under a root */
        }
    } else if (bytes == 0 || path[0] != L'\\') {
        return STATUS_OBJECT_PATH_SYNTAX_BAD;
    }
    BOOLEAN created = FALSE;
    /* ZwCreateKey creates the last component only: its parent must exist. */
    USHORT last = bytes / sizeof(WCHAR);
    while (last > 0 && path[last - 1] == L'\\')
        last--;
    USHORT parent_chars = last;
    while (parent_chars > 0 && path[parent_chars - 1] != L'\\')
        parent_chars--;
    pthread_mutex_lock(&reg_lock);
    skeleton_locked();
    reg_key *base = root != NULL ? root->key : &reg_root;
    reg_key *k;
    if (!create) {
        k = walk_locked(base, path, bytes, FALSE, NULL);
    } else {
        reg_key *parent = walk_locked(base, path, (USHORT)(parent_chars * sizeof(WCHAR)), FALSE, NULL);
        k = parent == NULL ? NULL
                           : walk_locked(parent, path + parent_chars,
                                         (USHORT)((last - parent_chars) * sizeof(WCHAR)), TRUE, &created);
        if (parent == NULL) {
            pthread_mutex_unlock(&reg_lock);
            if (root != NULL)
                ObfDereferenceObject(root);
            return STATUS_OBJECT_NAME_NOT_FOUND;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    if (root != NULL)
        ObfDereferenceObject(root);
    if (k == NULL)
        return create ? STATUS_INSUFFICIENT_RESOURCES : STATUS_OBJECT_NAME_NOT_FOUND;
    if (Disposition != NULL)
        *Disposition = created ? REG_CREATED_NEW_KEY : REG_OPENED_EXISTING_KEY;
    return handle_for(k, KeyHandle);
}

NTSTATUS ZwOpenKey(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_passive(&openwsk_rule_irql_zw_passive, "ZwOpenKey");
    (void)DesiredAccess;
    return open_key(KeyHandle, ObjectAttributes, FALSE, NULL);
}

NTSTATUS ZwCreateKey(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                     ULONG TitleIndex, PUNICODE_STRING Class, ULONG CreateOptions, PULONG Disposition)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_passive(&openwsk_rule_irql_zw_passive, "ZwCreateKey");
    (void)DesiredAccess;
    (void)TitleIndex;
    (void)Class;
    (void)CreateOptions; /* everything here is volatile */
    return open_key(KeyHandle, ObjectAttributes, TRUE, Disposition);
}

static void value_name_of(PUNICODE_STRING ValueName, const WCHAR **name, USHORT *bytes)
{
    static const WCHAR empty[1] = {0};
    *name = ValueName != NULL && ValueName->Buffer != NULL ? ValueName->Buffer : empty;
    *bytes = ValueName != NULL && ValueName->Buffer != NULL ? (USHORT)(ValueName->Length & ~1u) : 0;
}

/* Fills one KEY_VALUE_*_INFORMATION the way Windows does: too small for
 * the fixed part is STATUS_BUFFER_TOO_SMALL, too small for the rest
 * STATUS_BUFFER_OVERFLOW with the fixed part written. */
static NTSTATUS describe_value(const reg_value *v, KEY_VALUE_INFORMATION_CLASS cls, PVOID out, ULONG length,
                               PULONG result)
{
    ULONG fixed, total;
    UCHAR *o = out;
    switch (cls) {
    case KeyValueBasicInformation:
        fixed = FIELD_OFFSET(KEY_VALUE_BASIC_INFORMATION, Name);
        total = fixed + v->name_bytes;
        break;
    case KeyValueFullInformation:
    case KeyValueFullInformationAlign64: {
        /* The data follows the name, ULONG-aligned (8-byte for Align64). */
        ULONG align = cls == KeyValueFullInformationAlign64 ? 7u : 3u;
        fixed = FIELD_OFFSET(KEY_VALUE_FULL_INFORMATION, Name);
        total = ((fixed + v->name_bytes + align) & ~align) + v->size;
        break;
    }
    case KeyValuePartialInformation:
        fixed = FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data);
        total = fixed + v->size;
        break;
    case KeyValuePartialInformationAlign64:
        fixed = FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION_ALIGN64, Data);
        total = fixed + v->size;
        break;
    default:
        return STATUS_INVALID_PARAMETER;
    }
    if ((cls == KeyValueFullInformationAlign64 || cls == KeyValuePartialInformationAlign64) &&
        ((ULONG_PTR)out & 7u) != 0)
        return STATUS_DATATYPE_MISALIGNMENT;
    *result = total;
    if (length < fixed)
        return STATUS_BUFFER_TOO_SMALL;
    if (out == NULL)
        return STATUS_INVALID_PARAMETER;
    BOOLEAN whole = length >= total;
    if (cls == KeyValueBasicInformation) {
        PKEY_VALUE_BASIC_INFORMATION b = out;
        b->TitleIndex = 0;
        b->Type = v->type;
        b->NameLength = v->name_bytes;
        if (whole)
            memcpy(o + fixed, v->name, v->name_bytes);
    } else if (cls == KeyValueFullInformation || cls == KeyValueFullInformationAlign64) {
        PKEY_VALUE_FULL_INFORMATION f = out;
        f->TitleIndex = 0;
        f->Type = v->type;
        f->DataOffset = total - v->size;
        f->DataLength = v->size;
        f->NameLength = v->name_bytes;
        if (whole) {
            memcpy(o + fixed, v->name, v->name_bytes);
            memcpy(o + f->DataOffset, v->data, v->size);
        }
    } else if (cls == KeyValuePartialInformationAlign64) {
        PKEY_VALUE_PARTIAL_INFORMATION_ALIGN64 p = out;
        p->Type = v->type;
        p->DataLength = v->size;
        if (whole)
            memcpy(o + fixed, v->data, v->size);
    } else {
        PKEY_VALUE_PARTIAL_INFORMATION p = out;
        p->TitleIndex = 0;
        p->Type = v->type;
        p->DataLength = v->size;
        if (whole)
            memcpy(o + fixed, v->data, v->size);
    }
    return whole ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW;
}

NTSTATUS ZwQueryValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
                         KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass, PVOID KeyValueInformation,
                         ULONG Length, PULONG ResultLength)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_passive(&openwsk_rule_irql_zw_passive, "ZwQueryValueKey");
    if (ResultLength == NULL)
        return STATUS_INVALID_PARAMETER;
    reg_handle *h;
    NTSTATUS st = key_from_handle(KeyHandle, &h);
    if (!NT_SUCCESS(st))
        return st;
    const WCHAR *name;
    USHORT bytes;
    value_name_of(ValueName, &name, &bytes);
    pthread_mutex_lock(&reg_lock);
    reg_value *v = find_value_locked(h->key, name, bytes);
    st = v == NULL ? STATUS_OBJECT_NAME_NOT_FOUND
                   : describe_value(v, KeyValueInformationClass, KeyValueInformation, Length, ResultLength);
    pthread_mutex_unlock(&reg_lock);
    ObfDereferenceObject(h);
    return st;
}

NTSTATUS ZwSetValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName, ULONG TitleIndex, ULONG Type, PVOID Data,
                       ULONG DataSize)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_passive(&openwsk_rule_irql_zw_passive, "ZwSetValueKey");
    (void)TitleIndex;
    if (DataSize > 0 && Data == NULL)
        return STATUS_INVALID_PARAMETER;
    reg_handle *h;
    NTSTATUS st = key_from_handle(KeyHandle, &h);
    if (!NT_SUCCESS(st))
        return st;
    const WCHAR *name;
    USHORT bytes;
    value_name_of(ValueName, &name, &bytes);
    pthread_mutex_lock(&reg_lock);
    st = set_value_locked(h->key, name, bytes, Type, Data, DataSize);
    pthread_mutex_unlock(&reg_lock);
    ObfDereferenceObject(h);
    return st;
}

NTSTATUS ZwDeleteValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName)
{
    if (openwsk_verifying(OPENWSK_VERIFY_IRQL))
        openwsk_verify_passive(&openwsk_rule_irql_zw_passive, "ZwDeleteValueKey");
    reg_handle *h;
    NTSTATUS st = key_from_handle(KeyHandle, &h);
    if (!NT_SUCCESS(st))
        return st;
    const WCHAR *name;
    USHORT bytes;
    value_name_of(ValueName, &name, &bytes);
    pthread_mutex_lock(&reg_lock);
    reg_value *v = find_value_locked(h->key, name, bytes);
    if (v != NULL)
        delete_value_locked(h->key, v);
    pthread_mutex_unlock(&reg_lock);
    ObfDereferenceObject(h);
    return v != NULL ? STATUS_SUCCESS : STATUS_OBJECT_NAME_NOT_FOUND;
}

/* ---- RtlQueryRegistryValues and friends ---- */

/* The key RelativeTo and Path name (RTL_REGISTRY_HANDLE: Path is a handle). */
static NTSTATUS rtl_open(ULONG RelativeTo, PCWSTR Path, BOOLEAN create, reg_key **out)
{
    if (RelativeTo & RTL_REGISTRY_HANDLE) {
        reg_handle *h;
        NTSTATUS st = key_from_handle((HANDLE)Path, &h);
        if (!NT_SUCCESS(st))
            return st;
        *out = h->key; /* keys live until openwsk_registry_reset */
        ObfDereferenceObject(h);
        return STATUS_SUCCESS;
    }
    ULONG base = RelativeTo & ~(ULONG)RTL_REGISTRY_OPTIONAL;
    if (base >= RTL_REGISTRY_MAXIMUM)
        return STATUS_INVALID_PARAMETER;
    if (base == RTL_REGISTRY_ABSOLUTE && (Path == NULL || Path[0] != L'\\'))
        return STATUS_OBJECT_PATH_SYNTAX_BAD;
    pthread_mutex_lock(&reg_lock);
    skeleton_locked();
    reg_key *k = walk_ascii_locked(rtl_roots[base], create);
    if (k != NULL && Path != NULL)
        k = walk_locked(k, Path, (USHORT)(wide_length(Path) * sizeof(WCHAR)), create, NULL);
    pthread_mutex_unlock(&reg_lock);
    if (k == NULL)
        return create ? STATUS_INSUFFICIENT_RESOURCES : STATUS_OBJECT_NAME_NOT_FOUND;
    *out = k;
    return STATUS_SUCCESS;
}

static BOOLEAN is_string_type(ULONG type)
{
    return type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ;
}

/* RTL_QUERY_REGISTRY_DIRECT: stores one value where EntryContext says. */
static NTSTATUS store_direct(const RTL_QUERY_REGISTRY_TABLE *e, ULONG type, const void *data, ULONG size)
{
    if (e->EntryContext == NULL)
        return STATUS_INVALID_PARAMETER;
    /* NOSTRING: strings too go to a plain buffer with a size header. */
    if (is_string_type(type) && !(e->Flags & RTL_QUERY_REGISTRY_NOSTRING)) {
        PUNICODE_STRING u = e->EntryContext;
        ULONG bytes = size;
        if (bytes < sizeof(WCHAR) || ((const WCHAR *)data)[bytes / sizeof(WCHAR) - 1] != 0)
            bytes += sizeof(WCHAR); /* stored without its terminator */
        if (bytes > 0xFFFE)
            return STATUS_BUFFER_OVERFLOW;
        if (u->Buffer == NULL) {
            u->Buffer = ExAllocatePoolWithTag(PagedPool, bytes, REG_TAG);
            if (u->Buffer == NULL)
                return STATUS_INSUFFICIENT_RESOURCES;
            u->MaximumLength = (USHORT)bytes;
        } else if (u->MaximumLength < bytes) {
            return STATUS_BUFFER_TOO_SMALL;
        }
        memcpy(u->Buffer, data, size);
        u->Buffer[bytes / sizeof(WCHAR) - 1] = 0;
        u->Length = (USHORT)(bytes - sizeof(WCHAR));
        return STATUS_SUCCESS;
    }
    if (size <= sizeof(ULONG)) {
        memcpy(e->EntryContext, data, size);
        return STATUS_SUCCESS;
    }
    /* Larger data: the buffer starts with a LONG whose magnitude is its
     * size; negative means "data only", else {length, type, data}. */
    LONG head;
    memcpy(&head, e->EntryContext, sizeof(head));
    ULONG capacity = head < 0 ? (ULONG)-head : (ULONG)head;
    if (head < 0) {
        if (size > capacity)
            return STATUS_BUFFER_TOO_SMALL;
        memcpy(e->EntryContext, data, size);
    } else {
        if (size + 2 * sizeof(ULONG) > capacity)
            return STATUS_BUFFER_TOO_SMALL;
        UCHAR *o = e->EntryContext;
        memcpy(o, &size, sizeof(ULONG));
        memcpy(o + sizeof(ULONG), &type, sizeof(ULONG));
        memcpy(o + 2 * sizeof(ULONG), data, size);
    }
    return STATUS_SUCCESS;
}

static NTSTATUS deliver(const RTL_QUERY_REGISTRY_TABLE *e, PWSTR name, ULONG type, PVOID data, ULONG size,
                        PVOID Context)
{
    if (e->Flags & RTL_QUERY_REGISTRY_TYPECHECK) {
        ULONG expected = e->DefaultType >> RTL_QUERY_REGISTRY_TYPECHECK_SHIFT;
        if (type != expected)
            return STATUS_OBJECT_TYPE_MISMATCH;
    }
    if (e->Flags & RTL_QUERY_REGISTRY_DIRECT)
        return store_direct(e, type, data, size);
    if (!(e->Flags & RTL_QUERY_REGISTRY_NOEXPAND) && type == REG_EXPAND_SZ)
        type = REG_SZ; /* expanded (there is no environment to expand from) */
    if (!(e->Flags & RTL_QUERY_REGISTRY_NOEXPAND) && type == REG_MULTI_SZ) {
        /* Windows calls the routine once per string, each as REG_SZ. */
        const WCHAR *w = data;
        ULONG chars = size / sizeof(WCHAR), at = 0;
        while (at < chars && w[at] != 0) {
            ULONG end = at;
            while (end < chars && w[end] != 0)
                end++;
            ULONG bytes = (end - at + (end < chars ? 1 : 0)) * (ULONG)sizeof(WCHAR);
            NTSTATUS st = e->QueryRoutine(name, REG_SZ, (PVOID)(w + at), bytes, Context, e->EntryContext);
            if (!NT_SUCCESS(st))
                return st;
            at = end + 1;
        }
        return STATUS_SUCCESS;
    }
    return e->QueryRoutine(name, type, data, size, Context, e->EntryContext);
}

/* A copy of the value, so the routine runs without the registry lock (it
 * may read the registry itself). */
typedef struct value_copy {
    WCHAR *name;
    ULONG type;
    UCHAR *data;
    ULONG size;
} value_copy;

static BOOLEAN copy_value_locked(const reg_value *v, value_copy *c)
{
    c->name = copy_name(v->name, v->name_bytes);
    c->data = malloc(v->size > 0 ? v->size : 1);
    c->type = v->type;
    c->size = v->size;
    if (c->name == NULL || c->data == NULL) {
        free(c->name);
        free(c->data);
        return FALSE;
    }
    memcpy(c->data, v->data, v->size);
    return TRUE;
}

static NTSTATUS query_all_values(reg_key *k, const RTL_QUERY_REGISTRY_TABLE *e, PVOID Context)
{
    /* Snapshot the values first: the routine may run for long or re-enter. */
    pthread_mutex_lock(&reg_lock);
    ULONG count = 0;
    for (reg_value *v = k->values; v != NULL; v = v->next)
        count++;
    value_copy *copies = calloc(count > 0 ? count : 1, sizeof(*copies));
    ULONG made = 0;
    for (reg_value *v = k->values; v != NULL && copies != NULL; v = v->next)
        if (copy_value_locked(v, &copies[made]))
            made++;
    pthread_mutex_unlock(&reg_lock);
    if (copies == NULL || made != count) {
        for (ULONG i = 0; copies != NULL && i < made; i++) {
            free(copies[i].name);
            free(copies[i].data);
        }
        free(copies);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    NTSTATUS st = STATUS_SUCCESS;
    for (ULONG i = 0; i < made; i++) {
        if (NT_SUCCESS(st))
            st = deliver(e, copies[i].name, copies[i].type, copies[i].data, copies[i].size, Context);
        free(copies[i].name);
        free(copies[i].data);
    }
    free(copies);
    return st;
}

static NTSTATUS query_one(reg_key *k, const RTL_QUERY_REGISTRY_TABLE *e, PVOID Context)
{
    USHORT bytes = (USHORT)(wide_length(e->Name) * sizeof(WCHAR));
    value_copy c;
    BOOLEAN found = FALSE, copied = FALSE;
    pthread_mutex_lock(&reg_lock);
    reg_value *v = find_value_locked(k, e->Name, bytes);
    if (v != NULL) {
        found = TRUE;
        copied = copy_value_locked(v, &c);
    }
    pthread_mutex_unlock(&reg_lock);
    if (found && !copied)
        return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS st;
    if (found) {
        st = deliver(e, e->Name, c.type, c.data, c.size, Context);
        free(c.name);
        free(c.data);
    } else if (e->Flags & RTL_QUERY_REGISTRY_REQUIRED) {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    } else {
        ULONG type = e->DefaultType & ~(ULONG)RTL_QUERY_REGISTRY_TYPECHECK_MASK;
        if (type == REG_NONE)
            return STATUS_SUCCESS; /* nothing to report */
        ULONG size = e->DefaultLength;
        if (size == 0 && is_string_type(type) && e->DefaultData != NULL)
            size = (ULONG)((wide_length(e->DefaultData) + 1) * sizeof(WCHAR));
        RTL_QUERY_REGISTRY_TABLE plain = *e;
        plain.Flags &= ~(ULONG)RTL_QUERY_REGISTRY_TYPECHECK; /* the default is what the caller chose */
        st = deliver(&plain, e->Name, type, e->DefaultData, size, Context);
    }
    if (NT_SUCCESS(st) && found && (e->Flags & RTL_QUERY_REGISTRY_DELETE)) {
        pthread_mutex_lock(&reg_lock);
        reg_value *again = find_value_locked(k, e->Name, bytes);
        if (again != NULL)
            delete_value_locked(k, again);
        pthread_mutex_unlock(&reg_lock);
    }
    return st;
}

NTSTATUS RtlQueryRegistryValues(ULONG RelativeTo, PCWSTR Path, PRTL_QUERY_REGISTRY_TABLE QueryTable, PVOID Context,
                                PVOID Environment)
{
    (void)Environment;
    if (QueryTable == NULL)
        return STATUS_INVALID_PARAMETER;
    reg_key *top;
    NTSTATUS st = rtl_open(RelativeTo, Path, FALSE, &top);
    if (!NT_SUCCESS(st))
        return st == STATUS_OBJECT_NAME_NOT_FOUND && (RelativeTo & RTL_REGISTRY_OPTIONAL) ? STATUS_SUCCESS : st;
    reg_key *k = top;
    for (PRTL_QUERY_REGISTRY_TABLE e = QueryTable; e->QueryRoutine != NULL || e->Name != NULL; e++) {
        if ((e->Flags & RTL_QUERY_REGISTRY_DIRECT) && e->Name == NULL)
            return STATUS_INVALID_PARAMETER;
        if (e->Flags & RTL_QUERY_REGISTRY_TOPKEY) {
            k = top;
        } else if (e->Flags & RTL_QUERY_REGISTRY_SUBKEY) {
            pthread_mutex_lock(&reg_lock);
            reg_key *sub = walk_locked(top, e->Name, (USHORT)(wide_length(e->Name) * sizeof(WCHAR)), FALSE, NULL);
            pthread_mutex_unlock(&reg_lock);
            if (sub == NULL)
                return STATUS_OBJECT_NAME_NOT_FOUND;
            k = sub;
            if (e->QueryRoutine == NULL)
                continue;
            st = query_all_values(k, e, Context);
            if (!NT_SUCCESS(st))
                return st;
            continue;
        }
        if (e->Flags & RTL_QUERY_REGISTRY_NOVALUE) {
            if (e->QueryRoutine == NULL)
                return STATUS_INVALID_PARAMETER;
            st = e->QueryRoutine(e->Name, REG_NONE, NULL, 0, Context, e->EntryContext);
        } else if (e->Name == NULL) {
            st = query_all_values(k, e, Context);
        } else {
            st = query_one(k, e, Context);
        }
        if (!NT_SUCCESS(st))
            return st;
    }
    return STATUS_SUCCESS;
}

NTSTATUS RtlWriteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName, ULONG ValueType, PVOID ValueData,
                               ULONG ValueLength)
{
    if (ValueLength > 0 && ValueData == NULL)
        return STATUS_INVALID_PARAMETER;
    reg_key *k;
    NTSTATUS st = rtl_open(RelativeTo, Path, TRUE, &k);
    if (!NT_SUCCESS(st))
        return st;
    static const WCHAR empty[1] = {0};
    const WCHAR *name = ValueName != NULL ? ValueName : empty;
    pthread_mutex_lock(&reg_lock);
    st = set_value_locked(k, name, (USHORT)(wide_length(name) * sizeof(WCHAR)), ValueType, ValueData, ValueLength);
    pthread_mutex_unlock(&reg_lock);
    return st;
}

NTSTATUS RtlCheckRegistryKey(ULONG RelativeTo, PWSTR Path)
{
    reg_key *k;
    return rtl_open(RelativeTo, Path, FALSE, &k);
}

/* ---- host interface (openwsk_runtime.h) ---- */

/* ASCII/UTF-8 to UTF-16 (BMP only; enough for paths and parameters). */
static WCHAR *widen(const char *s, SIZE_T *chars)
{
    SIZE_T n = strlen(s), out = 0;
    WCHAR *w = malloc((n + 1) * sizeof(WCHAR));
    if (w == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != 0) {
        unsigned c = *p++;
        if (c >= 0xE0 && p[0] != 0 && p[1] != 0) {
            c = ((c & 0x0F) << 12) | ((p[0] & 0x3Fu) << 6) | (p[1] & 0x3Fu);
            p += 2;
        } else if (c >= 0xC0 && p[0] != 0) {
            c = ((c & 0x1F) << 6) | (p[0] & 0x3Fu);
            p += 1;
        }
        w[out++] = (WCHAR)c;
    }
    w[out] = 0;
    *chars = out;
    return w;
}

NTSTATUS openwsk_registry_set(const char *key_path, const char *value_name, ULONG type, const void *data,
                              ULONG size)
{
    if (key_path == NULL || key_path[0] != '\\' || value_name == NULL || (size > 0 && data == NULL))
        return STATUS_INVALID_PARAMETER;
    SIZE_T key_chars, name_chars;
    WCHAR *key = widen(key_path, &key_chars);
    WCHAR *name = widen(value_name, &name_chars);
    NTSTATUS st = STATUS_INSUFFICIENT_RESOURCES;
    if (key != NULL && name != NULL) {
        pthread_mutex_lock(&reg_lock);
        skeleton_locked();
        reg_key *k = walk_locked(&reg_root, key, (USHORT)(key_chars * sizeof(WCHAR)), TRUE, NULL);
        if (k != NULL)
            st = set_value_locked(k, name, (USHORT)(name_chars * sizeof(WCHAR)), type, data, size);
        pthread_mutex_unlock(&reg_lock);
    }
    free(key);
    free(name);
    return st;
}

NTSTATUS openwsk_registry_set_string(const char *key_path, const char *value_name, const char *utf8)
{
    SIZE_T chars;
    WCHAR *w = utf8 != NULL ? widen(utf8, &chars) : NULL;
    if (w == NULL)
        return utf8 == NULL ? STATUS_INVALID_PARAMETER : STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS st = openwsk_registry_set(key_path, value_name, REG_SZ, w, (ULONG)((chars + 1) * sizeof(WCHAR)));
    free(w);
    return st;
}

NTSTATUS openwsk_registry_set_dword(const char *key_path, const char *value_name, ULONG value)
{
    return openwsk_registry_set(key_path, value_name, REG_DWORD, &value, sizeof(value));
}

void openwsk_registry_reset(void)
{
    pthread_mutex_lock(&reg_lock);
    free_key(&reg_root);
    reg_skeleton_made = FALSE;
    pthread_mutex_unlock(&reg_lock);
}
