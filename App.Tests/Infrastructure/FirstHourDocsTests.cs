using System.Net;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>What Swagger tells a newcomer about the first hour's additions: the picker's name, the discovery document's limits, logout and cookie_only.</summary>
public sealed class FirstHourDocsTests : IClassFixture<AppFixture<Opaque>>
{
    private readonly AppFixture<Opaque> _fx;

    public FirstHourDocsTests(AppFixture<Opaque> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private async Task<JsonObject> DocumentAsync() =>
        JsonNode.Parse(await (await _fx.Api.GetAsync("/swagger/v1/swagger.json")).Content.ReadAsStringAsync())!.AsObject();

    private static JsonObject Operation(JsonObject doc, string method, string path) =>
        doc["paths"]![path]?[method]?.AsObject() ?? throw new Xunit.Sdk.XunitException($"{method.ToUpperInvariant()} {path} is not documented");

    private static string Responses(JsonObject operation) => operation["responses"]!.ToJsonString();

    [Fact]
    public async Task Swagger_ui_names_the_document_sessiongate_v1()
    {
        var page = await (await _fx.Api.GetAsync("/swagger/index.html")).Content.ReadAsStringAsync();
        Assert.Contains("<title>SessionGate v1</title>", page, StringComparison.Ordinal);
        // The picker's entries come from the UI's configuration script.
        var config = await _fx.Api.GetAsync("/swagger/index.js");
        Assert.Equal(HttpStatusCode.OK, config.StatusCode);
        var script = await config.Content.ReadAsStringAsync();
        Assert.Matches("\"name\":\\s*\"SessionGate v1\"", script);
        Assert.DoesNotContain("App v1", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_discovery_document_says_it_is_no_openid_provider()
    {
        var discovery = Operation(await DocumentAsync(), "get", "/.well-known/openid-configuration");
        Assert.Contains("not an OpenID provider", discovery["summary"]!.GetValue<string>(), StringComparison.Ordinal);
        var description = discovery["description"]!.GetValue<string>();
        Assert.Contains("no authorization_endpoint, token_endpoint, userinfo_endpoint or id_token", description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_is_locked_and_documents_the_refresh_token_way()
    {
        var logout = Operation(await DocumentAsync(), "post", "/auth/logout");
        Assert.Equal("bearer", Assert.Single(Assert.Single(logout["security"]!.AsArray())!.AsObject()).Key);
        Assert.Contains("refresh_token", logout["summary"]!.GetValue<string>(), StringComparison.Ordinal);
        var responses = Responses(logout);
        foreach (var type in new[] { "invalid-refresh-token", "unauthenticated", "session-revoked", "not-supported-in-mode", "cross-site-request" })
            Assert.Contains($"/errors/{type}", responses, StringComparison.Ordinal);
        Assert.True(logout["requestBody"]?["content"]?["application/json"] is not null, logout.ToJsonString());
    }

    [Fact]
    public async Task Login_documents_cookie_only()
    {
        var doc = await DocumentAsync();
        var login = Operation(doc, "post", "/auth/login");
        Assert.Contains("cookie_only", login["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("/errors/not-supported-in-mode", Responses(login), StringComparison.Ordinal);
        var schema = doc["components"]!["schemas"]!["LoginRequest"]!["properties"]!["cookie_only"]!;
        Assert.Contains("HttpOnly", schema["description"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
