/*
 * Linli ThingsBoard-topic plugin for Mosquitto 2.0 (plugin API 5) — requirement D2.
 *
 * ThingsBoard devices all publish on the same topics (v1/devices/me/telemetry, ...), so subscribers
 * cannot tell who sent a message. This plugin gives each message the device's own Linli topic:
 *
 *   v1/devices/me/<rest>  → linli/v1/<device>/<rest>      (telemetry, attributes, rpc/response/<id>)
 *   v1/gateway/<rest>     → linli/v1/<device>/gateway/<rest>
 *
 * where <device> is the device's Linli MQTT username. A ThingsBoard device connects with its access
 * token as MQTT username (no password): the plugin authenticates it against the token file written by
 * `manage.py iot_broker_passwd --tokens-out FILE` (lines "<sha256 hex of token> <device username>",
 * reloaded on SIGHUP) and rewrites its topics to that device's username. Clients that logged in with
 * a username/password (password_file) are left to the broker and rewritten to their own username.
 * A device can therefore never publish as another device.
 *
 * Downlink (RPC): the platform publishes commands on linli/v1/<device>/rpc/request/<id> (linli/iot/rpc.py).
 * When a ThingsBoard-style client of that device has subscribed to v1/devices/me/rpc/request/..., the
 * plugin sends it a copy on v1/devices/me/rpc/request/<id> addressed to that client only
 * (mosquitto_broker_publish_copy with its client id). The native topic is delivered as usual.
 *
 * Options (mosquitto.conf):  plugin /usr/lib/linli/linli_tb.so
 *                            plugin_opt_tokens_file /etc/mosquitto/linli.tokens
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define BUCKETS 16384u
#define TB_ME "v1/devices/me/"
#define TB_GATEWAY "v1/gateway/"
#define RPC_SUB "v1/devices/me/rpc/request/"
#define NATIVE "linli/v1/"
#define RPC_REQUEST "/rpc/request/"

struct entry {
	struct entry *next;
	char *key;
	char *value;
};

struct table {
	struct entry *b[BUCKETS];
};

static mosquitto_plugin_id_t *plugin_id;
static char *tokens_file;
static struct table tokens;  /* sha256 hex of token → device username */
static struct table clients; /* device username → client id of its ThingsBoard-style RPC subscriber */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	while(*s){
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h % BUCKETS;
}

static struct entry *table_find(struct table *t, const char *key)
{
	struct entry *e;
	for(e = t->b[fnv1a(key)]; e; e = e->next){
		if(!strcmp(e->key, key)) return e;
	}
	return NULL;
}

static int table_set(struct table *t, const char *key, const char *value)
{
	struct entry *e = table_find(t, key);
	char *v = mosquitto_strdup(value);
	if(!v) return MOSQ_ERR_NOMEM;
	if(e){
		mosquitto_free(e->value);
		e->value = v;
		return MOSQ_ERR_SUCCESS;
	}
	e = mosquitto_calloc(1, sizeof(*e));
	if(!e || !(e->key = mosquitto_strdup(key))){
		mosquitto_free(e);
		mosquitto_free(v);
		return MOSQ_ERR_NOMEM;
	}
	e->value = v;
	uint32_t i = fnv1a(key);
	e->next = t->b[i];
	t->b[i] = e;
	return MOSQ_ERR_SUCCESS;
}

static void table_del(struct table *t, const char *key, const char *if_value)
{
	struct entry **p = &t->b[fnv1a(key)];
	while(*p){
		struct entry *e = *p;
		if(!strcmp(e->key, key) && (!if_value || !strcmp(e->value, if_value))){
			*p = e->next;
			mosquitto_free(e->key);
			mosquitto_free(e->value);
			mosquitto_free(e);
			return;
		}
		p = &e->next;
	}
}

static void table_clear(struct table *t)
{
	for(uint32_t i = 0; i < BUCKETS; i++){
		while(t->b[i]){
			struct entry *e = t->b[i];
			t->b[i] = e->next;
			mosquitto_free(e->key);
			mosquitto_free(e->value);
			mosquitto_free(e);
		}
	}
}

/* A username may become a topic level: non-empty, no wildcard or separator characters. */
static bool valid_level(const char *s)
{
	return s && *s && !strpbrk(s, "/+#") && mosquitto_validate_utf8(s, (int)strlen(s)) == MOSQ_ERR_SUCCESS;
}

static bool sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	if(!EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) || len != 32) return false;
	for(int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
	return true;
}

static int load_tokens(void)
{
	FILE *f;
	char line[512], hash[65], user[257];
	int n = 0;

	table_clear(&tokens);
	if(!tokens_file) return MOSQ_ERR_SUCCESS;
	f = fopen(tokens_file, "r");
	if(!f){
		mosquitto_log_printf(MOSQ_LOG_ERR, "linli_tb: cannot read tokens file %s: %s", tokens_file, strerror(errno));
		return MOSQ_ERR_UNKNOWN;
	}
	while(fgets(line, sizeof(line), f)){
		if(line[0] == '#' || line[0] == '\n') continue;
		if(sscanf(line, "%64[0-9a-f] %256s", hash, user) != 2 || strlen(hash) != 64 || !valid_level(user)){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "linli_tb: ignoring a malformed line in %s", tokens_file);
			continue;
		}
		if(table_set(&tokens, hash, user) != MOSQ_ERR_SUCCESS){
			fclose(f);
			return MOSQ_ERR_NOMEM;
		}
		n++;
	}
	fclose(f);
	mosquitto_log_printf(MOSQ_LOG_INFO, "linli_tb: %d device tokens loaded from %s", n, tokens_file);
	return MOSQ_ERR_SUCCESS;
}

/* The device username a client acts as: its token's device, else its own (password) username. */
static const char *device_of(const struct mosquitto *client)
{
	const char *username = mosquitto_client_username(client);
	char hash[65];
	struct entry *e;

	if(!valid_level(username)) return NULL;
	if(sha256_hex(username, hash) && (e = table_find(&tokens, hash))) return e->value;
	return username;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	char hash[65];
	(void)event;
	(void)userdata;

	if(ed->username && sha256_hex(ed->username, hash) && table_find(&tokens, hash)){
		return MOSQ_ERR_SUCCESS; /* the access token is the credential (ThingsBoard style) */
	}
	return MOSQ_ERR_PLUGIN_DEFER; /* password_file decides */
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *device;
	(void)event;
	(void)userdata;

	/* Remember which connection of a device takes RPC requests on the ThingsBoard topic. */
	if(ed->access == MOSQ_ACL_SUBSCRIBE && ed->topic && !strncmp(ed->topic, RPC_SUB, strlen(RPC_SUB))
			&& (device = device_of(ed->client)) && mosquitto_client_id(ed->client)){
		table_set(&clients, device, mosquitto_client_id(ed->client));
	}
	return MOSQ_ERR_PLUGIN_DEFER; /* acl_file decides */
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	const char *device = device_of(ed->client);
	const char *id = mosquitto_client_id(ed->client);
	(void)event;
	(void)userdata;

	if(device && id) table_del(&clients, device, id);
	return MOSQ_ERR_SUCCESS;
}

static int rewrite(struct mosquitto_evt_message *ed, const char *device, const char *middle, const char *rest)
{
	size_t len = strlen(NATIVE) + strlen(device) + 1 + strlen(middle) + strlen(rest) + 1;
	char *topic = mosquitto_malloc(len);
	if(!topic) return MOSQ_ERR_NOMEM;
	snprintf(topic, len, "%s%s/%s%s", NATIVE, device, middle, rest);
#if LIBMOSQUITTO_VERSION_NUMBER < 2000015
	mosquitto_free(ed->topic); /* before 2.0.15 the broker does not free a replaced topic */
#endif
	ed->topic = topic;
	return MOSQ_ERR_SUCCESS;
}

static void forward_rpc(const struct mosquitto_evt_message *ed)
{
	const char *user = ed->topic + strlen(NATIVE);
	const char *slash = strchr(user, '/');
	char device[257], topic[512];
	struct entry *e;

	if(!slash || (size_t)(slash - user) >= sizeof(device) || strncmp(slash, RPC_REQUEST, strlen(RPC_REQUEST))) return;
	memcpy(device, user, (size_t)(slash - user));
	device[slash - user] = '\0';
	if(!(e = table_find(&clients, device))) return; /* no ThingsBoard-style subscriber online */
	if(snprintf(topic, sizeof(topic), "%s%s", RPC_SUB, slash + strlen(RPC_REQUEST)) >= (int)sizeof(topic)) return;
	mosquitto_broker_publish_copy(e->value, topic, (int)ed->payloadlen, ed->payload, ed->qos, false, NULL);
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	const char *device;
	(void)event;
	(void)userdata;

	if(!ed->topic) return MOSQ_ERR_SUCCESS;
	if(!strncmp(ed->topic, TB_ME, strlen(TB_ME))){
		if(!(device = device_of(ed->client))) return MOSQ_ERR_ACL_DENIED;
		return rewrite(ed, device, "", ed->topic + strlen(TB_ME));
	}
	if(!strncmp(ed->topic, TB_GATEWAY, strlen(TB_GATEWAY))){
		if(!(device = device_of(ed->client))) return MOSQ_ERR_ACL_DENIED;
		return rewrite(ed, device, "gateway/", ed->topic + strlen(TB_GATEWAY));
	}
	if(!strncmp(ed->topic, NATIVE, strlen(NATIVE))) forward_rpc(ed);
	return MOSQ_ERR_SUCCESS;
}

static int on_reload(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	return load_tokens();
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *opts, int opt_count)
{
	int rc;
	(void)userdata;

	plugin_id = identifier;
	for(int i = 0; i < opt_count; i++){
		if(!strcmp(opts[i].key, "tokens_file")) tokens_file = mosquitto_strdup(opts[i].value);
	}
	rc = load_tokens();
	if(rc) return rc;
	if((rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL))
			|| (rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL))
			|| (rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL))
			|| (rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL))
			|| (rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL, NULL))){
		return rc;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	(void)userdata;
	(void)opts;
	(void)opt_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL);
	table_clear(&tokens);
	table_clear(&clients);
	mosquitto_free(tokens_file);
	tokens_file = NULL;
	return MOSQ_ERR_SUCCESS;
}
