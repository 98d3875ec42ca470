using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using SessionGate.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>The pages behind every problem type, GET /, and what the OpenAPI document tells a newcomer.</summary>
public sealed class DocsTests : IClassFixture<AppFixture<Opaque>>
{
    private readonly AppFixture<Opaque> _fx;

    public DocsTests(AppFixture<Opaque> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private Task<HttpResponseMessage> GetAsync(string url, string accept) =>
        _fx.Api.SendAsync(HttpMethod.Get, url, configure: r => r.Headers.Accept.ParseAdd(accept));

    [Fact]
    public async Task Every_problem_type_has_a_page_and_a_catalog_entry_with_the_title_problems_carry()
    {
        foreach (var info in ErrorCatalog.All)
        {
            var page = await GetAsync(Problems.TypeUri(info.Name), "text/html,application/xhtml+xml,*/*;q=0.8");
            var html = await page.Content.ReadAsStringAsync();
            Assert.True(page.StatusCode == HttpStatusCode.OK, $"{info.Name}: {page.StatusCode}");
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"<h1>{info.Name}</h1>", html, StringComparison.Ordinal);
            Assert.Contains(WebUtility.HtmlEncode(info.Title), html, StringComparison.Ordinal);

            var json = await GetAsync(Problems.TypeUri(info.Name), "application/json");
            Assert.Equal("application/json", json.Content.Headers.ContentType?.MediaType);
            var entry = JsonDocument.Parse(await json.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(info.Name, entry.GetProperty("name").GetString());
            Assert.Equal(Problems.TypeUri(info.Name), entry.GetProperty("type").GetString());
            Assert.Equal(Problems.TitleOf(info.Name), entry.GetProperty("title").GetString());
            Assert.False(string.IsNullOrWhiteSpace(entry.GetProperty("what_to_do").GetString()));
            Assert.Contains("Accept", json.Headers.Vary);
        }
    }

    [Fact]
    public async Task The_session_revoked_page_explains_every_reason()
    {
        var entry = JsonDocument.Parse(await (await GetAsync("/errors/session-revoked", "application/json")).Content.ReadAsStringAsync()).RootElement;
        var reasons = entry.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("reason").GetString()).ToList();
        Assert.Equal(["logged-out", "kicked", "replaced", "banned", "password-changed", "expired", "refresh-reused", "roles-changed"], reasons);
    }

    [Fact]
    public async Task The_error_index_lists_every_type_in_html_and_json()
    {
        var html = await (await GetAsync("/errors", "text/html")).Content.ReadAsStringAsync();
        foreach (var info in ErrorCatalog.All) Assert.Contains($"href=\"/errors/{info.Name}\"", html, StringComparison.Ordinal);

        var json = JsonDocument.Parse(await (await GetAsync("/errors", "application/json")).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(ErrorCatalog.All.Select(i => i.Name), json.EnumerateArray().Select(e => e.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task An_unknown_error_name_is_a_404_problem()
    {
        await Problem.AssertAsync(await GetAsync("/errors/no-such-error", "text/html"), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await GetAsync("/errors/%3Cscript%3E", "application/json"), HttpStatusCode.NotFound, Problems.NotFound);
    }

    [Fact]
    public async Task The_type_of_a_real_error_resolves_to_its_page()
    {
        var failed = await _fx.Api.LoginRawAsync(new { tenant = "acme", username = "nobody-" + Guid.NewGuid().ToString("N")[..8], password = "wrong-password" });
        var problem = await Problem.AssertAsync(failed, HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        var page = await _fx.Api.GetAsync(problem.Type);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("POST /auth/login", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_root_redirects_to_swagger_ui()
    {
        var response = await _fx.Api.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/swagger", response.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/swagger/index.html")).StatusCode);
    }

    [Fact]
    public async Task Without_swagger_the_root_is_a_404_problem_and_the_error_pages_stay()
    {
        var api = _fx.AnotherInstance(s => s["Swagger:Enabled"] = "false");
        await Problem.AssertAsync(await api.GetAsync("/"), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await api.GetAsync("/swagger/v1/swagger.json"), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/errors/not-found")).StatusCode);
    }

    private async Task<JsonObject> DocumentAsync() =>
        JsonNode.Parse(await (await _fx.Api.GetAsync("/swagger/v1/swagger.json")).Content.ReadAsStringAsync())!.AsObject();

    private static JsonObject Operation(JsonObject doc, string method, string path) =>
        doc["paths"]![path]?[method]?.AsObject() ?? throw new Xunit.Sdk.XunitException($"{method.ToUpperInvariant()} {path} is not documented");

    /// <summary>The problem types an operation documents, as "status name".</summary>
    private static List<string> ProblemTypes(JsonObject operation) =>
        [.. operation["responses"]!.AsObject()
            .Where(r => r.Key[0] is '4' or '5')
            .SelectMany(r => r.Value!["content"]?["application/problem+json"]?["examples"]?.AsObject()
                .Select(e => $"{r.Key} {e.Value!["value"]!["type"]!.GetValue<string>()[Problems.TypeBase.Length..]}") ?? [$"{r.Key} (none)"])];

    [Fact]
    public async Task The_auth_group_comes_first_and_only_bearer_is_offered()
    {
        var doc = await DocumentAsync();
        Assert.Equal("Auth", doc["tags"]![0]!["name"]!.GetValue<string>());
        var schemes = doc["components"]!["securitySchemes"]!.AsObject();
        Assert.Equal(["bearer"], schemes.Select(s => s.Key));
        Assert.Equal("http", schemes["bearer"]!["type"]!.GetValue<string>());
        Assert.Null(doc["security"]);
    }

    [Theory]
    [InlineData("post", "/auth/login")]
    [InlineData("post", "/auth/refresh")]
    [InlineData("get", "/.well-known/jwks.json")]
    [InlineData("get", "/.well-known/openid-configuration")]
    [InlineData("get", "/health/live")]
    [InlineData("get", "/health/ready")]
    [InlineData("get", "/errors")]
    [InlineData("get", "/errors/{name}")]
    public async Task Public_operations_have_no_lock(string method, string path)
    {
        var operation = Operation(await DocumentAsync(), method, path);
        Assert.True(operation["security"] is null or JsonArray { Count: 0 }, $"{path}: {operation["security"]}");
    }

    [Theory]
    [InlineData("get", "/auth/me")]
    [InlineData("post", "/auth/logout")]
    [InlineData("get", "/api/reports")]
    [InlineData("post", "/admin/users/{id}/ban")]
    public async Task Protected_operations_are_locked_with_bearer(string method, string path)
    {
        var security = Operation(await DocumentAsync(), method, path)["security"]!.AsArray();
        Assert.Equal("bearer", Assert.Single(Assert.Single(security)!.AsObject()).Key);
    }

    [Fact]
    public async Task Login_lists_its_real_errors_with_their_problem_types()
    {
        var login = Operation(await DocumentAsync(), "post", "/auth/login");
        var types = ProblemTypes(login);
        foreach (var expected in new[] { "400 validation", "401 invalid-credentials", "403 account-banned", "403 session-limit-reached",
                     "429 too-many-attempts", "503 service-unavailable", "413 request-too-large", "415 unsupported-media-type" })
            Assert.Contains(expected, types);
        Assert.DoesNotContain(types, t => t.EndsWith(" unauthenticated", StringComparison.Ordinal));
        Assert.Contains("/errors/account-banned", login["responses"]!["403"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(login["responses"]!["429"]!["headers"]?["Retry-After"]);
    }

    [Fact]
    public async Task Every_error_response_names_known_problem_types()
    {
        var doc = await DocumentAsync();
        var known = ErrorCatalog.All.Select(i => i.Name).ToHashSet();
        foreach (var (path, item) in doc["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                foreach (var type in ProblemTypes(operation!.AsObject()))
                    Assert.True(known.Contains(type[4..]), $"{method.ToUpperInvariant()} {path}: {type}");
            }
        }
        var me = ProblemTypes(Operation(doc, "get", "/auth/me"));
        Assert.Contains("401 unauthenticated", me);
        Assert.Contains("401 session-revoked", me);
        var createUser = ProblemTypes(Operation(doc, "post", "/admin/users"));
        foreach (var expected in new[] { "400 weak-password", "403 forbidden", "403 cross-site-request", "404 not-found", "409 conflict" })
            Assert.Contains(expected, createUser);
    }

    [Fact]
    public async Task Every_path_parameter_is_declared_so_try_it_out_can_fill_it_in()
    {
        var doc = await DocumentAsync();
        foreach (var (path, item) in doc["paths"]!.AsObject())
        {
            var names = System.Text.RegularExpressions.Regex.Matches(path, @"\{(\w+)\}").Select(m => m.Groups[1].Value).ToList();
            foreach (var (method, operation) in item!.AsObject())
            {
                var declared = (operation!["parameters"]?.AsArray() ?? [])
                    .Where(p => p!["in"]!.GetValue<string>() == "path" && p["required"]?.GetValue<bool>() == true)
                    .Select(p => p!["name"]!.GetValue<string>());
                Assert.True(names.Order().SequenceEqual(declared.Order()), $"{method.ToUpperInvariant()} {path}: declares {string.Join(", ", declared)}");
            }
        }
        var id = Operation(doc, "post", "/admin/users/{id}/ban")["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "id")!;
        Assert.Equal("uuid", id["schema"]!["format"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(id["description"]?.GetValue<string>()));
    }

    [Fact]
    public async Task Query_parameters_are_described_and_enums_list_their_values()
    {
        var doc = await DocumentAsync();
        var listAudit = Operation(doc, "get", "/admin/audit");
        foreach (var parameter in listAudit["parameters"]!.AsArray())
            Assert.False(string.IsNullOrWhiteSpace(parameter!["description"]?.GetValue<string>()), $"{parameter!["name"]} has no description");
        var type = listAudit["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "type");
        Assert.Contains("login.failed", type!["schema"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));

        var schemas = doc["components"]!["schemas"]!;
        Assert.Equal(["web", "mobile", "desktop", "api"],
            schemas["LoginRequest"]!["properties"]!["device_type"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal(["Multiple", "Single", "PerDeviceType", "MaxN"],
            schemas["LoginPolicyRequest"]!["properties"]!["policy"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    // Every property the document describes or lists the values of, as "Schema.property". The docs live on the
    // records and endpoints they describe; this keeps a rename or a refactoring from dropping one without notice.
    private static readonly string[] DescribedProperties =
    [
        "BanRequest.until", "BanRequest.reason", "ChangePasswordRequest.new_password", "ChangePasswordRequest.device_token",
        "CreateServiceClientRequest.client_id", "CreateServiceClientRequest.audience", "CreateServiceClientRequest.may_call",
        "CreateUserRequest.password", "CreateUserRequest.roles", "CreateWebhookRequest.url", "CreateWebhookRequest.events",
        "CreateWebhookRequest.format", "DeliveryView.status", "DeliveryView.response_excerpt", "FactorProof.code", "FactorProof.recovery_code",
        "FactorProof.ceremony_id", "FactorProof.credential", "LoginPolicyRequest.policy", "LoginPolicyRequest.max_sessions",
        "LoginPolicyRequest.on_limit", "LoginRequest.tenant", "LoginRequest.device_type", "LoginRequest.device_token", "LoginRequest.cookie_only",
        "LoginResponse.token_type", "LoginResponse.device_token", "LogoutRequest.refresh_token", "MfaLoginRequest.mfa_token", "MfaLoginRequest.code",
        "MfaLoginRequest.recovery_code", "MfaLoginRequest.ceremony_id", "MfaLoginRequest.credential", "MfaLoginRequest.cookie_only",
        "MfaLoginRequest.device_token", "MfaTokenRequest.mfa_token", "PasskeyLoginRequest.cookie_only", "PasskeyRegistration.ceremony_id",
        "PasskeyRegistration.credential", "PasskeyRegistration.name", "PatchUserRequest.current_password", "RefreshRequest.refresh_token",
        "StepUpRequest.code", "StepUpRequest.recovery_code", "StepUpRequest.ceremony_id", "StepUpRequest.credential",
        "TokenExchangeResponse.access_token", "TokenExchangeResponse.issued_token_type", "TokenExchangeResponse.token_type",
        "TokenExchangeResponse.expires_in", "TotpConfirmRequest.code", "WebhookCreated.secret", "WebhookSecretView.previous_secret_valid_until",
        "WebhookView.events_delivered", "WebhookView.failing_since",
    ];

    private static readonly string[] EnumeratedProperties =
    [
        "AdminSessionView.device_type", "AuditView.type", "CreateRoleRequest.permissions", "LoginPolicyRequest.policy", "LoginPolicyRequest.on_limit",
        "LoginPolicyView.policy", "LoginPolicyView.on_limit", "LoginRequest.device_type", "LoginResponse.token_type", "MeSession.device_type",
        "OwnSession.device_type", "RoleView.permissions", "SetPermissionsRequest.permissions", "TenantView.login_policy", "TenantView.on_limit",
    ];

    [Fact]
    public async Task Every_operation_has_a_summary_and_every_parameter_a_description()
    {
        var doc = await DocumentAsync();
        var missing = new List<string>();
        foreach (var (path, item) in doc["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var name = $"{method.ToUpperInvariant()} {path}";
                if (string.IsNullOrWhiteSpace(operation!["summary"]?.GetValue<string>())) missing.Add($"{name}: no summary");
                foreach (var parameter in operation["parameters"]?.AsArray() ?? [])
                {
                    if (string.IsNullOrWhiteSpace(parameter!["description"]?.GetValue<string>())) missing.Add($"{name}: {parameter["name"]} has no description");
                }
            }
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    [Fact]
    public async Task Documented_properties_keep_their_descriptions_and_closed_sets_their_values()
    {
        var schemas = (await DocumentAsync())["components"]!["schemas"]!;
        JsonNode? Property(string dotted) => schemas[dotted.Split('.')[0]]?["properties"]?[dotted.Split('.')[1]];
        var undescribed = DescribedProperties.Where(p => string.IsNullOrWhiteSpace(Property(p)?["description"]?.GetValue<string>())).ToList();
        Assert.True(undescribed.Count == 0, $"No description: {string.Join(", ", undescribed)}");
        var unlisted = EnumeratedProperties.Where(p => (Property(p)?["enum"] ?? Property(p)?["items"]?["enum"]) is not JsonArray { Count: > 0 }).ToList();
        Assert.True(unlisted.Count == 0, $"No values: {string.Join(", ", unlisted)}");

        // Real enums are written as their names, as the wire has them.
        Assert.Equal(["Session", "Bearer"], schemas["LoginResponse"]!["properties"]!["token_type"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
        var policy = schemas["TenantView"]!["properties"]!["login_policy"]!;
        Assert.Equal("string", policy["type"]!.GetValue<string>());
        Assert.Equal(["Multiple", "Single", "PerDeviceType", "MaxN"], policy["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    [Theory]
    [InlineData("post", "/auth/login")]
    [InlineData("post", "/auth/refresh")]
    [InlineData("post", "/auth/password")]
    [InlineData("post", "/admin/users")]
    [InlineData("patch", "/admin/users/{id}")]
    [InlineData("put", "/admin/users/{id}/roles")]
    [InlineData("post", "/admin/users/{id}/ban")]
    [InlineData("post", "/admin/roles")]
    [InlineData("put", "/admin/roles/{name}")]
    [InlineData("post", "/admin/tenants")]
    [InlineData("put", "/admin/tenants/{slug}/login-policy")]
    public async Task Operations_with_a_body_to_fill_in_carry_a_request_example(string method, string path) =>
        Assert.NotEmpty(RequestExample(await DocumentAsync(), method, path));

    [Fact]
    public async Task Problem_examples_show_the_detail_the_endpoint_answers_with()
    {
        var doc = await DocumentAsync();
        string Detail(string method, string path, string status, string problem) =>
            Operation(doc, method, path)["responses"]![status]!["content"]!["application/problem+json"]!["examples"]![problem]!["value"]!["detail"]!.GetValue<string>();
        Assert.Equal("size must be between 1 and 100.", Detail("get", "/admin/audit", "400", "validation"));
        Assert.Equal("A role with this name exists.", Detail("post", "/admin/roles", "409", "conflict"));
        Assert.Equal("A tenant with this slug exists.", Detail("post", "/admin/tenants", "409", "conflict"));
        Assert.Equal("until must be in the future.", Detail("post", "/admin/users/{id}/ban", "400", "validation"));
    }

    private static JsonObject RequestExample(JsonObject doc, string method, string path) =>
        Operation(doc, method, path)["requestBody"]!["content"]!["application/json"]!["example"]!.AsObject();

    [Fact]
    public async Task The_login_example_logs_in_when_executed()
    {
        var example = RequestExample(await DocumentAsync(), "post", "/auth/login");
        Assert.NotEqual("string", example["password"]!.GetValue<string>());
        var response = await _fx.Api.Http.PostAsync("/auth/login",
            new StringContent(example.ToJsonString(), new MediaTypeHeaderValue("application/json")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Without_demo_data_the_login_example_is_refused_without_counting_as_a_failed_attempt()
    {
        var api = _fx.AnotherInstance(s => s["Demo:Seed"] = "false");
        var doc = JsonNode.Parse(await (await api.GetAsync("/swagger/v1/swagger.json")).Content.ReadAsStringAsync())!.AsObject();
        var example = RequestExample(doc, "post", "/auth/login");
        var response = await api.Http.PostAsync("/auth/login", new StringContent(example.ToJsonString(), new MediaTypeHeaderValue("application/json")));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.Validation);
    }

    [Fact]
    public async Task The_ban_example_bans_when_executed()
    {
        var example = RequestExample(await DocumentAsync(), "post", "/admin/users/{id}/ban");
        Assert.True(DateTimeOffset.Parse(example["until"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow);
        var user = await _fx.NewUserAsync();
        var response = await _fx.Api.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/admin/users/{user.Id}/ban")
        {
            Content = new StringContent(example.ToJsonString(), new MediaTypeHeaderValue("application/json")),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", (await _fx.AliceAsync()).Bearer) },
        });
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }
}
