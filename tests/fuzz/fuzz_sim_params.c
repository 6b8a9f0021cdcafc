/*
 * Fuzz mixsim's parameter parsing: the input is lines "name=value"; each is
 * applied with sim_param_set (which must accept or refuse, never crash),
 * then the whole set is checked, every value formatted and parsed back
 * (a value that was accepted must round-trip), and the list parser run.
 */
#include <stdlib.h>
#include <string.h>

#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct sim_params p, q;
    sim_params_default(&p);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        const char *why = NULL;
        if (!sim_param_set(&p, line, eq + 1, &why) && why == NULL)
            abort(); /* a refusal always says why */
    }
    const char *why = NULL;
    if (!sim_params_check(&p, &why) && why == NULL)
        abort();
    char buf[SIM_LIST_LEN + 32];
    sim_params_default(&q);
    for (size_t i = 0; i < sim_param_count; i++) {
        sim_param_format(&p, &sim_param_table[i], buf, sizeof buf);
        if (!sim_param_set(&q, sim_param_table[i].name, buf, NULL))
            abort();
    }
    if (memcmp(&p, &q, sizeof p) != 0)
        abort();
    static double vals[SIM_MAX_WIDTH];
    (void)sim_parse_list(p.weights, vals, SIM_MAX_WIDTH);
    (void)sim_parse_list(p.corrupt_ids, vals, 4);
    free(text);
    return 0;
}
