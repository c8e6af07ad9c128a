export async function main(argv: string[]): Promise<void> {
  void argv;
  process.stdout.write('sockscope: CLI under construction\n');
}
