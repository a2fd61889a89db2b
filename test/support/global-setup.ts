// Placeholder until the S3 server setup lands (starts radosgw on 127.0.0.1).
export default async function setup(): Promise<void> {}
