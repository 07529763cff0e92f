/*
 * Type rules given by the user: --custom-q "REGEX=TYPE,..." and --mix FILE,
 * plus the regular expressions of --include-weights / --exclude-weights.
 * Patterns are PCRE2, searched (unanchored) in the full tensor name.
 */
#ifndef QUANT_TOOLS_QUANTIZE_MIX_H
#define QUANT_TOOLS_QUANTIZE_MIX_H

#include <stdbool.h>
#include <stdint.h>

typedef struct name_regex name_regex;

/* Compile a pattern; on error prints "<origin>: invalid regular expression
 * '<pattern>' at column N: <PCRE2 message>" and returns NULL. */
name_regex *name_regex_compile(const char *command, const char *pattern, const char *origin);
bool name_regex_search(const name_regex *re, const char *name);
void name_regex_free(name_regex *re);

typedef struct custom_rule {
    char *pattern;
    int type;
    char *origin;    /* "--custom-q" or "FILE:LINE", for messages */
    name_regex *re;
    int64_t matches; /* tensors it decided */
} custom_rule;

typedef struct custom_rules {
    custom_rule *items;
    int count;
} custom_rules;

/* Append the rules of one --custom-q argument: split on ',', each item at its
 * first '='. Prints the error and returns false on a malformed item, an
 * invalid regex or an unknown type. */
bool custom_rules_add_list(const char *command, custom_rules *rules, const char *text);
/* Append the rules of a mix file: one REGEX=TYPE per line, blank lines and
 * '#' comments (a line starting with '#', or ' #' to the end of a line). */
bool custom_rules_add_file(const char *command, custom_rules *rules, const char *path);
/* The type of the first rule whose pattern is found in name (counted in its
 * matches), or -1. */
int custom_rules_match(custom_rules *rules, const char *name);
void custom_rules_free(custom_rules *rules);

#endif
