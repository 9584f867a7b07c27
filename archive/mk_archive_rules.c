/*
 * mk_archive_rules: [archive] rules, which messages are kept how long or
 * not at all; the first rule that matches decides (see mk_archive.h).
 */
#include "config.h"

#include <fnmatch.h>
#include <gmime/gmime.h>
#include <string.h>

#include "mk_archive.h"

static int mk_archive_glob(const char *pattern, const char *s)
{
    return s != NULL && fnmatch(pattern, s, FNM_CASEFOLD) == 0;
}

/* Whether a mailbox of the message's header list of type matches. */
static int mk_archive_glob_addrs(const char *pattern, const mk_msg *msg, GMimeAddressType type)
{
    if (msg == NULL)
        return 0;
    InternetAddressList *l = g_mime_message_get_addresses(msg->mime, type);
    for (int i = 0; l != NULL && i < internet_address_list_length(l); i++) {
        InternetAddress *ia = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia) &&
            mk_archive_glob(pattern,
                            internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))))
            return 1;
    }
    return 0;
}

int mk_archive_rules_decide(const mk_config *cfg, const char *env_from, const char *const *rcpts,
                            size_t n_rcpts, const mk_msg *msg, time_t arrival, time_t *retain_until,
                            int *rule)
{
    int years = (int)cfg->archive_retention_years;
    *rule = 0;
    for (size_t i = 0; i < cfg->n_archive_rules; i++) {
        const mk_conf_archive_rule *r = &cfg->archive_rules[i];
        int hit = 0;
        if (r->field == MK_ARCHIVE_RULE_TO) {
            for (size_t k = 0; k < n_rcpts && !hit; k++)
                hit = mk_archive_glob(r->pattern, rcpts[k]);
            hit = hit || mk_archive_glob_addrs(r->pattern, msg, GMIME_ADDRESS_TYPE_TO) ||
                  mk_archive_glob_addrs(r->pattern, msg, GMIME_ADDRESS_TYPE_CC);
        } else if (r->field == MK_ARCHIVE_RULE_FROM) {
            hit = mk_archive_glob(r->pattern, env_from) ||
                  mk_archive_glob_addrs(r->pattern, msg, GMIME_ADDRESS_TYPE_FROM);
        } else {
            hit = msg != NULL && mk_archive_glob(r->pattern, g_mime_message_get_subject(msg->mime));
        }
        if (!hit)
            continue;
        *rule = (int)i + 1;
        if (r->skip)
            return 0;
        years = r->years;
        break;
    }
    GDateTime *t = g_date_time_new_from_unix_utc(arrival);
    GDateTime *u = g_date_time_add_years(t, years);
    *retain_until = (time_t)g_date_time_to_unix(u);
    g_date_time_unref(u);
    g_date_time_unref(t);
    return 1;
}
