using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using SessionGate.Data;

namespace SessionGate.Migrations;

/// <summary>Lets `dotnet ef` build the context without starting the app.</summary>
public sealed class DesignTimeFactory : IDesignTimeDbContextFactory<AppDbContext>
{
    public AppDbContext CreateDbContext(string[] args)
    {
        // Migrations change the schema: as its owner, when the roles are split (scripts/run services exports both).
        var connection = Environment.GetEnvironmentVariable("ConnectionStrings__PostgresOwner")
            ?? Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
            ?? "Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate";
        var options = new DbContextOptionsBuilder<AppDbContext>()
            .UseNpgsql(connection, o => o.MigrationsAssembly(AppDbContext.MigrationsAssembly))
            .Options;
        return new AppDbContext(options);
    }
}
