/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The handlers of org.varlink.service (see service.h).
 */
#include <errno.h>

#include "build-config.h"
#include "dispatch.h"
#include "jv.h"
#include "params.h"
#include "service.h"
#include "varlink.h"

/* Varlink's GetInfo wants a URL; the manual page is the documentation we ship. */
#define SERVICE_URL "man:assignd(8)"

static int get_info(struct method_call *mc, struct json_object *params,
                    struct json_object **reply)
{
        const struct dispatch *d = method_call_dispatch(mc);
        struct json_object *o = json_object_new_object(), *list = json_object_new_array();
        int r = 0;

        for (size_t i = 0; i < dispatch_n_interfaces(d); i++)
                r |= jv_push_str(list, vl_interface_name(dispatch_interface_at(d, i)));
        r |= jv_set_obj(o, "interfaces", list);
        r |= jv_set_str(o, "vendor", "assignd");
        r |= jv_set_str(o, "product", "assignd");
        r |= jv_set_str(o, "version", ASSIGND_VERSION);
        r |= jv_set_str(o, "url", SERVICE_URL);
        if (r) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

static int get_interface_description(struct method_call *mc, struct json_object *params,
                                     struct json_object **reply)
{
        const char *name = params_string(params, "interface");
        const struct vl_interface *iface = dispatch_interface(method_call_dispatch(mc), name);
        struct json_object *o;

        if (!iface)
                return method_call_fail_service(mc, -ENOENT, VL_ERR_INTERFACE_NOT_FOUND,
                                                "interface", name);
        o = json_object_new_object();
        if (jv_set_str(o, "description", vl_interface_text(iface)) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *reply = o;
        return 0;
}

static const struct method_entry service_methods[] = {
        { SERVICE_IFACE ".GetInfo", METHOD_PUBLIC, get_info },
        { SERVICE_IFACE ".GetInterfaceDescription", METHOD_PUBLIC, get_interface_description },
};

int service_register(struct dispatch *d, char **err)
{
        return dispatch_register(d, service_methods, ARRAY_SIZE(service_methods), err);
}
