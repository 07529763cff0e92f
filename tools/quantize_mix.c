/* --custom-q and --mix rules, and the regular expressions behind them. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "quantize_mix.h"

#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool_common.h"

struct name_regex {
    pcre2_code *code;
    pcre2_match_data *match; /* one per pattern: the tool matches from one thread */
};

name_regex *name_regex_compile(const char *command, const char *pattern, const char *origin) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *compiled = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code,
                                         &offset, NULL);
    if (!compiled) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(code, message, sizeof message);
        tool_error(command, "%s: invalid regular expression '%s' at column %zu: %s", origin,
                   pattern, (size_t)offset + 1, (const char *)message);
        return NULL;
    }
    name_regex *re = malloc(sizeof *re);
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(compiled, NULL);
    if (!re || !match) {
        free(re);
        pcre2_match_data_free(match);
        pcre2_code_free(compiled);
        tool_error(command, "out of memory");
        return NULL;
    }
    re->code = compiled;
    re->match = match;
    return re;
}

bool name_regex_search(const name_regex *re, const char *name) {
    return pcre2_match(re->code, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, re->match,
                       NULL) >= 0;
}

void name_regex_free(name_regex *re) {
    if (!re)
        return;
    pcre2_match_data_free(re->match);
    pcre2_code_free(re->code);
    free(re);
}

/* One REGEX=TYPE item (split at its first '='). */
static bool add_rule(const char *command, custom_rules *rules, const char *item, size_t len,
                     const char *origin) {
    char *text = strndup(item, len);
    char *eq = text ? strchr(text, '=') : NULL;
    if (!eq || eq == text || !eq[1]) {
        tool_error(command, "%s: '%s' is not REGEX=TYPE", origin, text ? text : "");
        free(text);
        return false;
    }
    *eq = '\0';
    int type = lq_type_from_name(eq + 1);
    if (type < 0) {
        tool_error(command, "%s: rule '%s=%s':", origin, text, eq + 1);
        tool_parse_type(command, eq + 1); /* prints the valid names */
        free(text);
        return false;
    }
    name_regex *re = name_regex_compile(command, text, origin);
    custom_rule *grown = re ? realloc(rules->items, sizeof *grown * (size_t)(rules->count + 1))
                            : NULL;
    if (!grown) {
        name_regex_free(re);
        free(text);
        return false;
    }
    rules->items = grown;
    rules->items[rules->count++] = (custom_rule){text, type, strdup(origin), re, 0};
    return true;
}

bool custom_rules_add_list(const char *command, custom_rules *rules, const char *text) {
    const char *item = text;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (!add_rule(command, rules, item, len, "--custom-q"))
            return false;
        if (!comma)
            return true;
        item = comma + 1;
    }
}

/* Drop a comment and surrounding blanks; returns the rule text (maybe ""). */
static char *strip_line(char *line) {
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '#')
        *line = '\0';
    for (char *p = line; *p; p++)
        if (*p == '#' && p > line && isspace((unsigned char)p[-1])) {
            *p = '\0';
            break;
        }
    size_t n = strlen(line);
    while (n > 0 && isspace((unsigned char)line[n - 1]))
        line[--n] = '\0';
    return line;
}

bool custom_rules_add_file(const char *command, custom_rules *rules, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        tool_error(command, "--mix %s: %s", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    int number = 0;
    while (ok && getline(&line, &cap, f) >= 0) {
        number++;
        char *rule = strip_line(line);
        if (!*rule)
            continue;
        char origin[1100];
        snprintf(origin, sizeof origin, "%.1024s:%d", path, number);
        ok = add_rule(command, rules, rule, strlen(rule), origin);
    }
    free(line);
    fclose(f);
    return ok;
}

int custom_rules_match(custom_rules *rules, const char *name) {
    for (int i = 0; i < rules->count; i++)
        if (name_regex_search(rules->items[i].re, name)) {
            rules->items[i].matches++;
            return rules->items[i].type;
        }
    return -1;
}

void custom_rules_free(custom_rules *rules) {
    for (int i = 0; i < rules->count; i++) {
        free(rules->items[i].pattern);
        free(rules->items[i].origin);
        name_regex_free(rules->items[i].re);
    }
    free(rules->items);
    rules->items = NULL;
    rules->count = 0;
}
