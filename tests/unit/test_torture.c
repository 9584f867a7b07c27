/* Every file of the shared MIME torture set (../shared/testdata/mime, or
 * $MK_SHARED_MIME) is buffered and parsed: nothing crashes, every file
 * gives a message model. Plain TAP, one test point per file; where the set
 * is not beside the tree (make distcheck), the plan says SKIP. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mk_msg.h"

static int mk_torture_collect(const char *dir, GPtrArray *files)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = g_strdup_printf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            mk_torture_collect(path, files);
        else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            g_ptr_array_add(files, g_strdup(path));
        g_free(path);
    }
    closedir(d);
    return 0;
}

static int mk_torture_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    const char *dir = getenv("MK_SHARED_MIME");
    char *def = g_strdup_printf("%s/../shared/testdata/mime", ABS_TOP_SRCDIR);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    if (mk_torture_collect(dir ? dir : def, files) != 0 || files->len == 0) {
        printf("1..0 # SKIP no MIME torture set at %s\n", dir ? dir : def);
        return 0;
    }
    g_ptr_array_sort(files, mk_torture_cmp);
    mk_msg_library_init();
    printf("1..%u\n", files->len);
    int failed = 0;
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        gchar *data = NULL;
        gsize len = 0;
        char err[256] = "";
        int ok = g_file_get_contents(path, &data, &len, NULL);
        mk_msgbuf *b = ok ? mk_msgbuf_new(65536, "/tmp") : NULL;
        ok = b != NULL && mk_msgbuf_append(b, data, len, err, sizeof(err)) == 0;
        mk_msg *m = ok ? mk_msg_parse(b) : NULL;
        ok = m != NULL && m->mime != NULL;
        printf("%s %u - %s (%zu bytes, %u parser complaints, %zu text parts)\n",
               ok ? "ok" : "not ok", i + 1, path + strlen(dir ? dir : def) + 1, (size_t)len,
               m ? m->n_warnings : 0, m ? m->n_texts : 0);
        failed += !ok;
        mk_msg_free(m);
        mk_msgbuf_free(b);
        g_free(data);
    }
    mk_msg_library_cleanup();
    g_ptr_array_free(files, TRUE);
    g_free(def);
    return failed ? 1 : 0;
}
